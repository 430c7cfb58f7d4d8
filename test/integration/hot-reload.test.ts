/**
 * Hot reload of the real process (issue 15): `roomgate start --config FILE`
 * with a WebSocket and an SSE client connected; the file is rewritten and
 * SIGHUP (then `roomgate reload`) applies a new service URL, token, pool
 * nodes, proxy route, status source and health check, then a rate limit,
 * without closing either client. An invalid file is refused with one log
 * line and the running config keeps serving; a changed port is named and ignored.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startClientApi, type FakeClientApi } from '../helpers/client-api.js'
import { freePort, waitFor } from '../helpers/ports.js'
import { runCli, type RunningCli } from '../helpers/process.js'
import { SseClient } from '../helpers/sse-client.js'
import { sendJson, startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { TestClient } from '../helpers/ws-client.js'

const dir = mkdtempSync(join(tmpdir(), 'roomgate-reload-'))
const file = join(dir, 'roomgate.yaml')
/** Two versions of the measurement service: each says which one answered, on the proxy and to events. */
const upstreams: Record<'A' | 'B', TestUpstream> = {} as never
let api: FakeClientApi
let cli: RunningCli
let url: string
/** The clients that must stay connected throughout, and what closed of them. */
let ws: TestClient
let sse: SseClient
const closed: string[] = []

interface Settings {
  port: number
  service: 'A' | 'B'
  token: string
  nodes: string[]
  /** Statuses the `demo` source maps to sold. */
  sold: string[]
  /** Proxy routes besides /v1/measurement and /v1/private. */
  routes: string[]
  checks: string[]
  rateLimit: { rps: number; burst: number }
}

const yaml = (s: Settings) =>
  JSON.stringify({
    port: s.port,
    host: '127.0.0.1',
    auth: { bearerTokens: [s.token], internalToken: 'internal' },
    services: { measurement: { url: upstreams[s.service].url } },
    proxy: {
      routes: [
        { prefix: '/v1/measurement', service: 'measurement' },
        { prefix: '/v1/private', service: 'measurement', auth: 'bearer' },
        ...s.routes.map((prefix) => ({ prefix, service: 'measurement' })),
      ],
    },
    rateLimit: s.rateLimit,
    rooms: { pools: { janus: { strategy: 'least-loaded', nodes: s.nodes } } },
    status: {
      keepaliveSeconds: 30,
      sources: [{ slug: 'demo', url: `${api.url}/units`, mapping: { sold: s.sold }, pollIntervalSeconds: 1, cacheTtlSeconds: 1, retryCount: 0 }],
    },
    health: { checks: s.checks.map((name) => ({ name, kind: 'http', url: `${upstreams.A.url}/health` })) },
  })

const call = async (path: string, init: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: unknown } = {}) => {
  const res = await request(`${url}${path}`, {
    method: init.method ?? 'GET',
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  })
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> }
}
const healthz = async () => (await call('/healthz')).body.config as { hash: string; loadedAt: string }
const room = async (id: number) => (await call('/v2/room_server', { method: 'POST', body: { room: id } })).body.janus
const logLines = (text: string) => cli.stdout.filter((l) => l.includes(text))

beforeAll(async () => {
  for (const name of ['A', 'B'] as const) {
    upstreams[name] = await startUpstream((req, res) => {
      req.resume()
      sendJson(res, 200, { upstream: name, path: req.url })
    })
  }
  api = await startClientApi()
  api.units = [{ ref: 'U1', status: 'open' }, { ref: 'U2', status: 'gone' }]
})
afterAll(async () => {
  ws?.close()
  sse?.close()
  cli?.proc.kill('SIGKILL')
  await Promise.all([upstreams.A.close(), upstreams.B.close(), api.close()])
})

const v1: Settings = {
  port: 0,
  service: 'A',
  token: 'old-token',
  nodes: ['n1', 'n2'],
  sold: ['taken'],
  routes: [],
  checks: ['first'],
  rateLimit: { rps: 1000, burst: 1000 },
}
/** Another service URL, token, pool nodes, proxy route, status mapping and health check. */
const v2: Settings = { ...v1, service: 'B', token: 'new-token', nodes: ['n1', 'n3'], sold: ['taken', 'gone'], routes: ['/v1/added'], checks: ['first', 'second'] }
/** A lower rate limit, and (set below) a port that needs a restart. */
const v3: Settings = { ...v2, rateLimit: { rps: 0.1, burst: 3 } }
/** What /healthz showed after each step. */
const seen: Array<{ hash: string; loadedAt: string }> = []

// One process through every step, in order.
describe('hot reload of roomgate start', () => {
  it('starts, with a WebSocket and an SSE client connected', async () => {
    v1.port = await freePort()
    v3.port = await freePort()
    writeFileSync(file, yaml(v1))
    cli = runCli(['start', '--config', file])
    await cli.waitForLine('roomgate listening')
    url = `http://127.0.0.1:${v1.port}`
    seen.push(await healthz())
    expect(seen[0]!.hash).toMatch(/^[0-9a-f]{12}$/)
    expect(Date.parse(seen[0]!.loadedAt)).not.toBeNaN()

    ws = await TestClient.connect(`${url.replace('http', 'ws')}/ws?device_id=d1`)
    sse = await SseClient.connect(`${url}/api/public/demo/status/stream`)
    void ws.closed.then(() => closed.push('ws'))
    void sse.closed.then(() => closed.push('sse'))
    expect((await sse.next((e) => e.event === 'status_update')).data.statuses).toEqual({ U1: 'available', U2: 'available' })
    expect((await ws.request('measurement.run')).data).toMatchObject({ upstream: 'A' })
    expect((await call('/v1/measurement/x')).body).toMatchObject({ upstream: 'A' })
    expect((await call('/v1/private/x', { headers: { authorization: 'Bearer old-token' } })).status).toBe(200)
    expect(await room(1001)).toBe('n1')
    expect(await room(1002)).toBe('n2')
    expect((await call('/v1/added/y')).status).toBe(404)
  })

  it('applies a service URL, a token, pool nodes, a proxy route, a status source and a health check on SIGHUP', async () => {
    writeFileSync(file, yaml(v2))
    cli.proc.kill('SIGHUP')
    const now = await waitFor(async () => {
      const h = await healthz()
      return h.hash !== seen[0]!.hash ? h : undefined
    })
    seen.push(now)
    // The log comes down another pipe than the answer: waited for, not assumed.
    expect(await cli.waitForLine('config reloaded')).toContain(
      `config reloaded: auth.bearerTokens, services, proxy.routes, rooms.pools, status.sources, health (hash ${now.hash})`,
    )

    expect((await call('/v1/measurement/x')).body).toMatchObject({ upstream: 'B' })
    expect((await ws.request('measurement.run')).data).toMatchObject({ upstream: 'B' })
    expect((await call('/v1/added/y')).body).toMatchObject({ upstream: 'B', path: '/v1/added/y' })
    expect((await call('/v1/private/x', { headers: { authorization: 'Bearer old-token' } })).status).toBe(401)
    expect((await call('/v1/private/x', { headers: { authorization: 'Bearer new-token' } })).body).toMatchObject({ upstream: 'B' })
    // n2 left the pool: its room stays there, new rooms go elsewhere.
    expect(await room(1002)).toBe('n2')
    const placed = [await room(1003), await room(1004), await room(1005)]
    expect(placed).toContain('n3')
    expect(placed).not.toContain('n2')
    // The source's new mapping, on the stream that was open all along.
    expect((await sse.next((e) => e.event === 'bulk_update')).data).toEqual({ updates: { U2: 'sold' } })
    expect(Object.keys(((await call('/api/v1/metrics')).body.metrics as { checks: object }).checks)).toEqual(['first', 'second'])
  })

  it('applies a rate limit with `roomgate reload`, to the open connection too, and names the port it cannot change', async () => {
    writeFileSync(file, yaml(v3))
    const reload = runCli(['reload', '--url', url, '--token', 'new-token'])
    expect(await reload.exited).toBe(0)
    expect(reload.stdout[0]).toBe('reloaded: rateLimit')
    expect(reload.stdout.join('\n')).toMatch(/needs a restart +port \(running values kept\)/)
    const now = await healthz()
    seen.push(now)
    expect(now.hash).not.toBe(seen[1]!.hash)
    expect(await cli.waitForLine('need a restart')).toContain('need a restart and keep their running values: port')
    expect(await cli.waitForLine('config reloaded: rateLimit')).toContain(`(hash ${now.hash})`)
    // Of 5 messages at once, the new burst of 3 passes.
    const answers = await Promise.all([1, 2, 3, 4, 5].map((i) => ws.request('no.route', {}, `r${i}`)))
    expect(answers.map((a) => a.error.code)).toEqual(['unknown_event', 'unknown_event', 'unknown_event', 'rate_limited', 'rate_limited'])
  })

  it('refuses an invalid file with one log line naming the problem, and keeps serving the running config', async () => {
    writeFileSync(file, yaml({ ...v3, rateLimit: { rps: 0, burst: 3 } }))
    cli.proc.kill('SIGHUP')
    await cli.waitForLine('config reload refused')
    expect(logLines('config reload refused')).toEqual([expect.stringContaining('rateLimit.rps must be > 0')])
    expect(await healthz()).toEqual(seen[2])
    expect((await call('/v1/measurement/x')).body).toMatchObject({ upstream: 'B' })
    const refused = runCli(['reload', '--url', url, '--token', 'new-token'])
    expect(await refused.exited).toBe(2)
    expect(refused.stderr.join('\n')).toContain('422 config_refused: The new config was refused, the running one stays: rateLimit.rps must be > 0')
    expect(await healthz()).toEqual(seen[2])
  })

  it('kept the WebSocket and the SSE stream open throughout, and both still get events', async () => {
    api.units = [{ ref: 'U1', status: 'taken' }, { ref: 'U2', status: 'gone' }]
    expect((await sse.next((e) => e.event === 'bulk_update')).data).toEqual({ updates: { U1: 'sold' } })
    const broadcast = await call('/internal/broadcast', {
      method: 'POST',
      headers: { 'x-internal-token': 'internal' },
      body: { event: 'after.reload', data: {}, targets: { all: true } },
    })
    expect(broadcast.status).toBe(200)
    expect(await ws.next((m) => m.event === 'after.reload')).toMatchObject({ type: 'event' })
    expect(closed).toEqual([])
    const metrics = await (await request(`${url}/metrics`)).body.text()
    expect(metrics).toContain('roomgate_config_reloads_total{outcome="applied"} 2')
    expect(metrics).toContain('roomgate_config_reloads_total{outcome="refused"} 2')
  })
})
