/**
 * Seed 002's health checks end to end: the monitor against a fake S3 that
 * verifies SigV4 on its own, plain HTTP upstreams, and a container-credentials
 * endpoint, all on 127.0.0.1:0. Most tests drive the monitor with tick(); the
 * scheduling tests use start() with short intervals.
 */
import { Writable } from 'node:stream'
import { pino } from 'pino'
import Value from 'typebox/value'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { HealthSchema, type HealthConfig } from '../../src/config/health-schema.js'
import { HealthMonitor, type HealthMonitorOptions } from '../../src/health/monitor.js'
import { checkHealthConfig } from '../../src/health/specs.js'
import type { CheckSnapshot } from '../../src/health/types.js'
import { Registry } from '../../src/metrics/registry.js'
import { startFakeS3, type FakeS3 } from '../helpers/fake-s3.js'
import { silentLog } from '../helpers/log.js'
import { freePort, sleep, waitFor } from '../helpers/ports.js'
import { sendJson, startUpstream, type TestUpstream } from '../helpers/upstream.js'

const BUCKET = 'roomgate-health'
const KEYS = { accessKeyId: 'AKIDROOMGATETEST', secretAccessKey: 'test-secret/with+chars' }
const ENV = { AWS_ACCESS_KEY_ID: KEYS.accessKeyId, AWS_SECRET_ACCESS_KEY: KEYS.secretAccessKey }

let s3: FakeS3
const monitors: HealthMonitor[] = []
const upstreams: TestUpstream[] = []

/** The health section as the config loader would hand it over: the schema's defaults filled in, validated. */
function healthConfig(tree: Record<string, unknown>): HealthConfig {
  const config = Value.Default(HealthSchema, structuredClone(tree))
  expect([...Value.Errors(HealthSchema, config)]).toEqual([])
  return config as HealthConfig
}

/** A monitor on the fake S3's bucket (long interval: tests call tick()). */
function monitor(tree: Record<string, unknown> = {}, options: Partial<HealthMonitorOptions> = {}): HealthMonitor {
  const m = new HealthMonitor({
    config: healthConfig({ intervalMs: 60_000, timeoutMs: 1_000, s3: { bucket: BUCKET, endpoint: s3.url }, ...tree }),
    env: ENV,
    log: silentLog,
    registry: new Registry(),
    ...options,
  })
  monitors.push(m)
  return m
}

async function upstream(handler: Parameters<typeof startUpstream>[0]): Promise<TestUpstream> {
  const up = await startUpstream(handler)
  upstreams.push(up)
  return up
}

/** A logger whose lines the test can read. */
function capturingLog() {
  const lines: Array<{ level: number; msg: string; [k: string]: unknown }> = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as (typeof lines)[number])
      done()
    },
  })
  return { log: pino({ level: 'debug' }, stream), lines }
}

beforeEach(async () => {
  s3 = await startFakeS3({ buckets: [BUCKET], ...KEYS })
})
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.close()))
  await Promise.all(upstreams.splice(0).map((u) => u.close()))
  await s3.close()
})

describe('S3 check', () => {
  it('a signed HEAD on a known bucket is healthy, with the seed\'s fields', async () => {
    const updates: CheckSnapshot[] = []
    const m = monitor({}, { onUpdate: (s) => updates.push(s) })
    await m.tick()

    const s = m.s3()!
    expect(s).toMatchObject({
      name: 's3',
      kind: 's3',
      target: `${s3.url}/${BUCKET}`,
      isHealthy: true,
      checkCount: 1,
      region: 'us-east-1',
      error: null,
      consecutiveFailures: 0,
    })
    expect(s.latency).toBeGreaterThanOrEqual(0)
    expect(Number.isInteger(s.latency)).toBe(true)
    expect(s.averageLatency).toBe(s.latency)
    expect(s.latencyHistory).toEqual([s.latency])
    expect(Date.parse(s.lastCheck!)).toBeGreaterThan(Date.now() - 5_000)
    expect(updates).toEqual([s])

    expect(s3.requests).toHaveLength(1)
    expect(s3.requests[0]).toMatchObject({ method: 'HEAD', path: `/${BUCKET}`, signature: 'valid' })
    expect(s3.requests[0]!.headers['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD')
  })

  it('a wrong secret is unhealthy with "access denied", and the error shows no secret or signature', async () => {
    const m = monitor({}, { env: { ...ENV, AWS_SECRET_ACCESS_KEY: 'not-the-secret' } })
    await m.tick()
    const s = m.s3()!
    expect(s3.requests[0]!.signature).toBe('invalid')
    expect(s).toMatchObject({ isHealthy: false, error: 'access denied (403)', consecutiveFailures: 1, checkCount: 1 })
    expect(s.latency).not.toBeNull() // S3 answered: that is a round trip
    expect(JSON.stringify(s)).not.toMatch(/not-the-secret|Signature|AKID/)
  })

  it('an unknown bucket is unhealthy with "bucket not found"', async () => {
    const m = monitor({ s3: { bucket: 'no-such-bucket', endpoint: s3.url } })
    await m.tick()
    expect(m.s3()).toMatchObject({ isHealthy: false, error: 'bucket not found (404)', target: `${s3.url}/no-such-bucket` })
  })

  it('a store that does not answer in time fails within timeoutMs, without a latency', async () => {
    s3.delayMs = 3_000
    const m = monitor({ timeoutMs: 300 })
    const started = performance.now()
    await m.tick()
    const took = performance.now() - started
    expect(took).toBeGreaterThanOrEqual(290)
    expect(took).toBeLessThan(1_000)
    expect(m.s3()).toMatchObject({ isHealthy: false, latency: null, averageLatency: null, error: 'timed out after 300 ms', latencyHistory: [] })
  })

  it('recovers, logging the failure once and the recovery once', async () => {
    const { log, lines } = capturingLog()
    const m = monitor({}, { log })
    s3.failWith = 503
    await m.tick()
    await m.tick()
    expect(m.s3()).toMatchObject({ isHealthy: false, error: 'S3 unavailable (503)', consecutiveFailures: 2, checkCount: 2 })
    s3.failWith = undefined
    await m.tick()
    expect(m.s3()).toMatchObject({ isHealthy: true, error: null, consecutiveFailures: 0, checkCount: 3 })

    const said = lines.filter((l) => l.level >= 30).map((l) => [l.level, l.msg, l.check, l.error])
    expect(said).toEqual([
      [40, 'health check failing', 's3', 'S3 unavailable (503)'],
      [30, 'health check recovered', 's3', undefined],
    ])
  })

  it('averageLatency is the rounded mean of the last 3 samples; latencyHistory keeps historySize; checkCount counts', async () => {
    const m = monitor({ historySize: 4 })
    for (const delay of [0, 120, 0, 60, 180]) {
      s3.delayMs = delay
      await m.tick()
    }
    const s = m.s3()!
    expect(s.checkCount).toBe(5)
    expect(s.latencyHistory).toHaveLength(4)
    const [, second, third, fourth] = s.latencyHistory as [number, number, number, number]
    expect(second).toBeLessThan(60)
    expect(third).toBeGreaterThanOrEqual(58)
    expect(fourth).toBeGreaterThanOrEqual(178)
    expect(s.latency).toBe(fourth)
    expect(s.averageLatency).toBe(Math.round((second + third + fourth) / 3))
  })

  it('exports up, latency and run counts per check', async () => {
    const registry = new Registry()
    const m = monitor({}, { registry })
    expect(registry.render()).toContain('roomgate_health_check_up{check="s3"} 0')
    await m.tick()
    s3.failWith = 500
    await m.tick()
    const text = registry.render()
    expect(text).toContain('roomgate_health_check_up{check="s3"} 0')
    expect(text).toContain('roomgate_health_checks_total{check="s3",result="ok"} 1')
    expect(text).toContain('roomgate_health_checks_total{check="s3",result="fail"} 1')
    expect(text).toMatch(/^roomgate_health_check_latency_seconds\{check="s3"\} \d+(\.\d+)?(e-\d+)?$/m)
    s3.failWith = undefined
    await m.tick()
    expect(registry.render()).toContain('roomgate_health_check_up{check="s3"} 1')
  })

  it('without credentials it sends unsigned requests: fine on a public store, "access denied" on a private one', async () => {
    const m = monitor({}, { env: {} })
    s3.requireAuth = false
    await m.tick()
    expect(m.s3()).toMatchObject({ isHealthy: true })
    s3.requireAuth = true
    await m.tick()
    expect(m.s3()).toMatchObject({ isHealthy: false, error: 'access denied (403)' })
    expect(s3.requests.map((r) => [r.signature, r.headers.authorization])).toEqual([
      [undefined, undefined],
      [undefined, undefined],
    ])
  })

  it('s3() is health.s3 when it names a bucket, else the first S3 check', async () => {
    const archive = { name: 'archive', kind: 's3', bucket: BUCKET, endpoint: s3.url }
    const withSeed = monitor({ checks: [archive] })
    expect(withSeed.all().map((s) => s.name)).toEqual(['s3', 'archive'])
    expect(withSeed.s3()?.name).toBe('s3')

    const without = monitor({ s3: {}, checks: [{ name: 'web', kind: 'http', url: s3.url }, archive] })
    expect(without.s3()?.name).toBe('archive')
    expect(without.get('web')?.kind).toBe('http')
    expect(monitor({ s3: {} }).s3()).toBeUndefined()
  })
})

describe('HTTP check', () => {
  it.each([
    { desc: '200 is healthy', status: 200, expectStatus: undefined, healthy: true, error: null },
    { desc: 'a redirect is healthy (not followed)', status: 302, expectStatus: undefined, healthy: true, error: null },
    { desc: '500 is unhealthy', status: 500, expectStatus: undefined, healthy: false, error: 'answered 500' },
    { desc: 'the expected status is healthy', status: 204, expectStatus: 204, healthy: true, error: null },
    { desc: 'another 2xx than expected is unhealthy', status: 200, expectStatus: 204, healthy: false, error: 'answered 200, expected 204' },
  ])('$desc', async ({ status, expectStatus, healthy, error }) => {
    const up = await upstream((_req, res) => {
      res.writeHead(status, status === 302 ? { location: '/login' } : {})
      res.end(status === 204 ? undefined : 'page')
    })
    const m = monitor({ s3: {}, checks: [{ name: 'web', kind: 'http', url: `${up.url}/ping`, ...(expectStatus ? { expectStatus } : {}) }] })
    await m.tick()
    expect(m.get('web')).toMatchObject({ kind: 'http', target: `${up.url}/ping`, isHealthy: healthy, error, checkCount: 1 })
    expect(m.get('web')!.latency).not.toBeNull()
    expect(m.get('web')).not.toHaveProperty('region')
  })

  it('connection refused is unhealthy without a latency', async () => {
    const port = await freePort()
    const m = monitor({ s3: {}, checks: [{ name: 'gone', kind: 'http', url: `http://127.0.0.1:${port}/` }] })
    await m.tick()
    expect(m.get('gone')).toMatchObject({ isHealthy: false, latency: null, error: 'connection refused' })
  })

  it('sends credentials in the URL as Basic auth and never shows them', async () => {
    let seen: string | undefined
    const up = await upstream((req, res) => {
      seen = req.headers.authorization
      res.end('ok')
    })
    const url = `http://probe:p%40ss@127.0.0.1:${up.port}/health`
    const m = monitor({ s3: {}, checks: [{ name: 'private', kind: 'http', url }] })
    await m.tick()
    expect(seen).toBe(`Basic ${Buffer.from('probe:p@ss').toString('base64')}`)
    expect(m.get('private')).toMatchObject({ isHealthy: true, target: `http://127.0.0.1:${up.port}/health` })
  })

  it('takes a password that is not valid percent-encoding as written, instead of failing to start', async () => {
    let seen: string | undefined
    const up = await upstream((req, res) => {
      seen = req.headers.authorization
      res.end('ok')
    })
    const m = monitor({ s3: {}, checks: [{ name: 'odd', kind: 'http', url: `http://probe:100%zz@127.0.0.1:${up.port}/health` }] })
    await m.tick()
    expect(seen).toBe(`Basic ${Buffer.from('probe:100%zz').toString('base64')}`)
  })
})

describe('container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI)', () => {
  const SESSION = { AccessKeyId: 'ASIAROOMGATETEST', SecretAccessKey: 'container-secret', Token: 'session-token' }

  async function agent(expiresInMs: number, status = 200) {
    const calls: Array<string | undefined> = []
    const up = await upstream((req, res) => {
      calls.push(req.headers.authorization)
      if (req.headers.authorization !== 'ecs-token') return sendJson(res, 401, { message: 'bad token' })
      if (status !== 200) return sendJson(res, status, { message: 'broken' })
      sendJson(res, 200, { ...SESSION, Expiration: new Date(Date.now() + expiresInMs).toISOString() })
    })
    const env = { AWS_CONTAINER_CREDENTIALS_FULL_URI: `${up.url}/v2/credentials`, AWS_CONTAINER_AUTHORIZATION_TOKEN: 'ecs-token' }
    return { calls, env }
  }

  beforeEach(async () => {
    await s3.close()
    s3 = await startFakeS3({
      buckets: [BUCKET],
      accessKeyId: SESSION.AccessKeyId,
      secretAccessKey: SESSION.SecretAccessKey,
      sessionToken: SESSION.Token,
    })
  })

  it('fetches temporary credentials with the token, signs with the session token, and caches them', async () => {
    const { calls, env } = await agent(60 * 60_000)
    const m = monitor({}, { env })
    for (let i = 0; i < 3; i++) await m.tick()
    expect(m.s3()).toMatchObject({ isHealthy: true, checkCount: 3 })
    expect(calls).toEqual(['ecs-token'])
    expect(s3.requests.map((r) => [r.signature, r.headers['x-amz-security-token']])).toEqual(
      Array.from({ length: 3 }, () => ['valid', SESSION.Token]),
    )
  })

  it('fetches again when the cached ones expire within five minutes', async () => {
    const { calls, env } = await agent(2 * 60_000)
    const m = monitor({}, { env })
    await m.tick()
    await m.tick()
    expect(calls).toHaveLength(2)
    expect(m.s3()).toMatchObject({ isHealthy: true })
  })

  it('an endpoint that fails makes the check unhealthy without contacting S3', async () => {
    const { env } = await agent(60 * 60_000, 500)
    const m = monitor({}, { env })
    await m.tick()
    expect(m.s3()).toMatchObject({
      isHealthy: false,
      latency: null,
      error: 'no credentials: container credentials endpoint answered 500',
    })
    expect(s3.requests).toHaveLength(0)
  })

  it('refuses plain http to a host that is neither loopback nor the container agent', async () => {
    const m = monitor({}, { env: { AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://credentials.example/v2', AWS_CONTAINER_AUTHORIZATION_TOKEN: 't' } })
    await m.tick()
    expect(m.s3()!.error).toMatch(/^no credentials: container credentials URL must use https/)
    expect(s3.requests).toHaveLength(0)
  })
})

describe('scheduling', () => {
  it('start() checks at once, then every intervalMs', async () => {
    const m = monitor({ intervalMs: 100 })
    m.start()
    await waitFor(() => m.s3()!.checkCount >= 1, 1_000, 'the first check')
    expect(s3.requests).toHaveLength(1)
    await waitFor(() => m.s3()!.checkCount >= 4, 2_000, 'three more checks')
  })

  it('never overlaps two runs of one check', async () => {
    s3.delayMs = 250
    const m = monitor({ intervalMs: 100, timeoutMs: 2_000 })
    m.start()
    await sleep(1_100)
    // Back to back, each run takes 250 ms: at most five started in 1.1 s (overlapping runs would make eleven).
    expect(s3.requests.length).toBeGreaterThanOrEqual(3)
    expect(s3.requests.length).toBeLessThanOrEqual(5)
  })

  it('close() aborts a run in flight, stops the timers, and reports nothing more', async () => {
    s3.delayMs = 5_000
    const updates: CheckSnapshot[] = []
    const m = monitor({ intervalMs: 100, timeoutMs: 10_000 }, { onUpdate: (s) => updates.push(s) })
    m.start()
    await waitFor(() => s3.requests.length === 1, 1_000, 'the first request')
    const started = performance.now()
    await m.close()
    expect(performance.now() - started).toBeLessThan(1_000)
    await m.close() // idempotent
    await sleep(300)
    expect(s3.requests).toHaveLength(1)
    expect(updates).toEqual([])
    expect(m.s3()!.checkCount).toBe(0)
  })
})

describe('health config', () => {
  it('fills the documented defaults', () => {
    expect(healthConfig({})).toEqual({ intervalMs: 5_000, timeoutMs: 3_000, historySize: 60, s3: { region: 'us-east-1' }, checks: [] })
  })

  it.each([
    { desc: 'interval under 100 ms', tree: { intervalMs: 50 } },
    { desc: 'zero timeout', tree: { timeoutMs: 0 } },
    { desc: 'unknown setting', tree: { s3: { bukket: 'x' } } },
    { desc: 'bucket name S3 would refuse', tree: { s3: { bucket: 'Has_Upper' } } },
    { desc: 'http check without url', tree: { checks: [{ name: 'a', kind: 'http' }] } },
    { desc: 'unknown kind', tree: { checks: [{ name: 'a', kind: 'ftp', url: 'ftp://x' }] } },
  ])('the schema rejects $desc', ({ tree }) => {
    const config = Value.Default(HealthSchema, structuredClone(tree))
    expect([...Value.Errors(HealthSchema, config)].length).toBeGreaterThan(0)
  })

  it('names duplicate check names and bad URLs by dotted key', () => {
    const health = healthConfig({
      s3: { bucket: BUCKET, endpoint: 'ftp://store' },
      checks: [
        { name: 's3', kind: 'http', url: 'http://a/' },
        { name: 'web', kind: 'http', url: 'not a url' },
        { name: 'web', kind: 's3', bucket: BUCKET, endpoint: 'http://user:pw@store:9000' },
      ],
    })
    expect(checkHealthConfig({ health })).toEqual([
      'health.s3.endpoint must use http or https, got ftp:',
      'health.checks[0].name "s3" is already used by health.s3',
      'health.checks[1].url must be an absolute http(s) URL, got "not a url"',
      'health.checks[2].name "web" is already used by health.checks[1]',
      'health.checks[2].endpoint must not carry credentials (the AWS credential chain signs requests)',
    ])
    expect(() => new HealthMonitor({ config: health, env: {}, log: silentLog, registry: new Registry() })).toThrow(/health\.checks\[0\]\.name/)
  })
})
