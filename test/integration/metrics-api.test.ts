/**
 * Seed 002's health and metrics surface on a running roomgate: the S3 check
 * against a local S3 stand-in that verifies signatures (env S3_HEALTH_BUCKET,
 * S3_REGION, S3_ENDPOINT, S3_CHECK_INTERVAL and the AWS credentials), the
 * three GET endpoints, Prometheus series, the `s3-health` push on /ws, and
 * throughput taken from a backend over BACKEND_WS_URL.
 */
import { WebSocketServer } from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { startFakeS3, type FakeS3 } from '../helpers/fake-s3.js'
import { closeGates, startGate } from '../helpers/gate.js'
import { waitFor } from '../helpers/ports.js'
import { TestClient } from '../helpers/ws-client.js'

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
const clients: TestClient[] = []
const closers: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  await closeGates()
  for (const close of closers.splice(0)) await close()
})

async function s3(): Promise<FakeS3> {
  const fake = await startFakeS3({ buckets: ['media'], accessKeyId: 'AKIDTEST', secretAccessKey: SECRET, region: 'eu-west-1', requireAuth: true })
  closers.push(() => fake.close())
  return fake
}

const s3Env = (fake: FakeS3, secret = SECRET) => ({
  S3_HEALTH_BUCKET: 'media',
  S3_REGION: 'eu-west-1',
  S3_ENDPOINT: fake.url,
  S3_CHECK_INTERVAL: '200',
  AWS_ACCESS_KEY_ID: 'AKIDTEST',
  AWS_SECRET_ACCESS_KEY: secret,
})

const getJson = async (url: string) => {
  const res = await fetch(url)
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.status, body: (await res.json()) as any }
}

describe('health and metrics API', () => {
  it("answers /api/v1/health with the engine's state", async () => {
    const g = await startGate()
    const { status, body } = await getJson(`${g.url}/api/v1/health`)
    expect(status).toBe(200)
    expect(body).toMatchObject({ success: true, status: 'healthy', database: 'connected', engine: 'memory' })
    expect(Date.parse(body.timestamp)).toBeGreaterThan(0)
  })

  it('checks the S3 bucket with signed HeadBucket requests and shows it as the seed does', async () => {
    const fake = await s3()
    const g = await startGate({}, s3Env(fake))
    const s3Health = await waitFor(async () => {
      const { body } = await getJson(`${g.url}/api/v1/metrics/s3`)
      return body.s3Health?.checkCount >= 4 ? body.s3Health : undefined
    })
    expect(s3Health).toMatchObject({ isHealthy: true, region: 'eu-west-1', latency: expect.any(Number), averageLatency: expect.any(Number) })
    expect(s3Health.latencyHistory.length).toBeGreaterThanOrEqual(4)
    expect(Date.parse(s3Health.lastCheck)).toBeGreaterThan(0)
    expect(fake.requests.every((r) => r.method === 'HEAD' && r.path === '/media' && r.signature === 'valid')).toBe(true)

    const { body } = await getJson(`${g.url}/api/v1/metrics`)
    expect(body).toMatchObject({ success: true, metrics: { lucidLink: { throughputMbps: 0 }, s3Health: { isHealthy: true, region: 'eu-west-1' } } })
    expect(body.metrics.s3Health.latencyHistory).toBeUndefined()

    // Prometheus scrapes the seed's path too.
    const prom = await fetch(`${g.url}/api/v1/metrics`, { headers: { accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1' } })
    expect(prom.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await prom.text()
    expect(text).toMatch(/^roomgate_health_check_up\{check="s3"\} 1$/m)
    expect(text).toMatch(/^roomgate_health_checks_total\{check="s3",result="ok"\} \d+$/m)
  })

  it('reports a bucket it cannot reach as unhealthy, and never shows the secret', async () => {
    const fake = await s3()
    const g = await startGate({}, s3Env(fake, 'not-the-secret'))
    const s3Health = await waitFor(async () => {
      const { body } = await getJson(`${g.url}/api/v1/metrics/s3`)
      return body.s3Health?.checkCount >= 2 ? body.s3Health : undefined
    })
    expect(s3Health).toMatchObject({ isHealthy: false, error: expect.stringMatching(/403/) })
    expect(JSON.stringify(s3Health)).not.toContain('not-the-secret')
    expect(g.logs.join('\n')).not.toContain('not-the-secret')
  })

  it('shows health check targets without their query or credentials', async () => {
    const g = await startGate({ health: { intervalMs: 200, checks: [{ name: 'svc', kind: 'http', url: 'http://user:pw@127.0.0.1:9/health?access_token=SECRET123' }] } })
    const check = await waitFor(async () => {
      const { body } = await getJson(`${g.url}/api/v1/metrics`)
      return body.metrics.checks.svc?.checkCount >= 1 ? body.metrics.checks.svc : undefined
    })
    expect(check).toMatchObject({ isHealthy: false, target: 'http://127.0.0.1:9/health?…' })
    const everything = JSON.stringify(check) + g.logs.join('\n')
    expect(everything).not.toContain('SECRET123')
    expect(everything).not.toContain(':pw@')
  })

  it('says so when no S3 check is configured', async () => {
    const g = await startGate()
    const { body } = await getJson(`${g.url}/api/v1/metrics/s3`)
    expect(body).toMatchObject({ success: true, s3Health: null, message: expect.stringContaining('S3_HEALTH_BUCKET') })
  })
})

describe('metrics feed on /ws', () => {
  it("pushes s3-health to dashboards every check, in the seed's shape", async () => {
    const fake = await s3()
    const g = await startGate({}, s3Env(fake))
    const dashboard = await TestClient.connect(`${g.wsUrl}/ws`)
    clients.push(dashboard)
    const first = await dashboard.next((m) => m.type === 'metrics')
    expect(first).toHaveProperty('lucidLink')
    expect(first).toHaveProperty('s3Health')
    const update = await dashboard.next((m) => m.type === 's3-health' && m.s3Health.checkCount >= 2)
    expect(Object.keys(update.s3Health).sort()).toEqual(
      ['averageLatency', 'checkCount', 'error', 'isHealthy', 'lastCheck', 'latency', 'region'].sort(),
    )
  })

  it('takes LucidLink throughput from the backend at BACKEND_WS_URL and shows it to dashboards and the metrics API', async () => {
    const backend = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    closers.push(() => new Promise((r) => backend.close(r)))
    await new Promise((r) => backend.once('listening', r))
    const { port } = backend.address() as { port: number }
    backend.on('connection', (socket) => {
      const timer = setInterval(() => socket.send(JSON.stringify({ type: 'lucidlink-stats', lucidLink: { throughputMbps: 130.2 } })), 100)
      socket.on('close', () => clearInterval(timer))
    })
    const g = await startGate({}, { BACKEND_WS_URL: `ws://127.0.0.1:${port}` })
    const dashboard = await TestClient.connect(`${g.wsUrl}/ws`)
    clients.push(dashboard)
    const stats = await dashboard.next((m) => m.type === 'lucidlink-stats', 5_000)
    expect(stats.lucidLink).toMatchObject({ throughputMbps: 130.2, source: 'backend' })
    const { body } = await getJson(`${g.url}/api/v1/metrics`)
    expect(body.metrics.lucidLink).toMatchObject({ throughputMbps: 130.2, source: 'backend' })
  })
})

describe('/metrics', () => {
  it("has the runtime series Grafana's Node.js dashboards expect, each family once, with the right types", async () => {
    const g = await startGate()
    const text = await (await fetch(`${g.url}/metrics`)).text()
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const)
    const names = types.map(([name]) => name)
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([])
    const type = Object.fromEntries(types)
    expect(type).toMatchObject({
      process_cpu_seconds_total: 'counter',
      process_resident_memory_bytes: 'gauge',
      process_start_time_seconds: 'gauge',
      nodejs_eventloop_lag_seconds: 'gauge',
      nodejs_heap_size_used_bytes: 'gauge',
      nodejs_heap_size_total_bytes: 'gauge',
      nodejs_active_handles: 'gauge',
      nodejs_gc_duration_seconds: 'histogram',
      nodejs_version_info: 'gauge',
      roomgate_ws_connections: 'gauge',
    })
    expect(text).toMatch(new RegExp(`^nodejs_version_info\\{version="${process.version}",.*\\} 1$`, 'm'))
    // The same text through seed 002's metrics route, asked for Prometheus.
    const seed = await (await fetch(`${g.url}/api/v1/metrics`, { headers: { accept: 'text/plain' } })).text()
    expect(seed).toContain('# TYPE process_cpu_seconds_total counter')
  })
})
