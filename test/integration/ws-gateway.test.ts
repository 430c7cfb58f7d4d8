/**
 * The WebSocket gateway end to end: real clients, real services on port 0,
 * a real roomgate instance (memory engine).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { connect as tcpConnect, type Socket } from 'node:net'
import { WebSocket } from 'ws'
import { request } from 'undici'
import { closeGates, startGate, type TestGate } from '../helpers/gate.js'
import { startService, startUpstream, type GatewayCall, type TestUpstream } from '../helpers/upstream.js'
import { TestClient } from '../helpers/ws-client.js'
import { freePort, sleep, waitFor } from '../helpers/ports.js'

type Service = TestUpstream & { calls: GatewayCall[] }

let lobby: Service
let measurement: Service
let simulation: Service
let gate: TestGate
const clients: TestClient[] = []

async function connect(query = '?device_id=dev-1'): Promise<TestClient> {
  const c = await TestClient.connect(`${gate.wsUrl}/ws${query}`)
  clients.push(c)
  return c
}

beforeEach(async () => {
  lobby = await startService((call) => {
    if (call.event === 'lobby.create') return { status: 200, body: { lobby_id: 'L1', code: 'ABC123' } }
    if (call.event === 'lobby.full') return { status: 409, body: { error: { code: 'lobby_full', message: 'Lobby is full' } } }
    if (call.event === 'lobby.crash') return { status: 500, body: { detail: 'Traceback...' } }
    if (call.event === 'lobby.html') return { status: 200, body: '<html>', raw: true }
    if (call.event === 'lobby.slow') return { status: 200, body: {}, delayMs: 2_000 }
    if (call.event === 'lobby.empty') return { status: 200, body: null }
    if (call.event === 'lobby.big') return { status: 200, body: { blob: 'x'.repeat(2 * 1024 * 1024) } }
    if (call.event === 'lobby.huge') return { status: 200, body: { blob: 'x'.repeat(5 * 1024 * 1024) } }
    if (call.event === 'lobby.hang') return undefined
    return { status: 200, body: { service: 'lobby', event: call.event } }
  })
  measurement = await startService((call) => ({ status: 200, body: { service: 'measurement', event: call.event } }))
  simulation = await startService((call) => ({ status: 200, body: { service: 'simulation', event: call.event } }))
  gate = await startGate({
    services: { lobby: { url: lobby.url }, measurement: { url: measurement.url }, simulation: { url: `${simulation.url}/sim/` } },
    httpTimeoutSeconds: 0.5,
  })
})

afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  await closeGates()
  await Promise.all([lobby.close(), measurement.close(), simulation.close()])
})

describe('identity', () => {
  it('takes the device id from the query string and sends the seed envelope upstream', async () => {
    const c = await connect('?device_id=phone-7')
    const res = await c.request('lobby.create', { name: 'Room A' }, 'uuid-123')
    expect(res).toEqual({ type: 'response', event: 'lobby.create', request_id: 'uuid-123', data: { lobby_id: 'L1', code: 'ABC123' } })
    expect(lobby.calls).toEqual([
      {
        path: '/gateway/handle',
        body: { event: 'lobby.create', request_id: 'uuid-123', device_id: 'phone-7', data: { name: 'Room A' } },
      },
    ])
  })

  it('answers unidentified until an identify event, then routes', async () => {
    const c = await connect('')
    const before = await c.request('lobby.create', {}, 'r1')
    expect(before).toMatchObject({ type: 'error', event: 'lobby.create', request_id: 'r1', error: { code: 'unidentified' } })
    expect(lobby.calls).toHaveLength(0)

    // Until it identifies, the connection is a dashboard: seed 002's metrics feed came first.
    expect(await c.next()).toMatchObject({ type: 'metrics' })
    c.send({ event: 'identify', data: { device_id: 'tablet-2' } })
    expect(await c.next()).toEqual({ type: 'response', event: 'identify', request_id: null, data: { device_id: 'tablet-2' } })

    await c.request('lobby.create', {}, 'r2')
    expect(lobby.calls[0]!.body.device_id).toBe('tablet-2')
  })

  it('refuses a bad device id, and a second identity on one connection', async () => {
    const c = await connect('')
    expect((await c.request('identify', { device_id: '' })).error.code).toBe('bad_request')
    expect((await c.request('identify', { device_id: 42 })).error.code).toBe('bad_request')
    expect((await c.request('identify', {})).error.code).toBe('bad_request')
    expect((await c.request('identify', { device_id: 'a' })).data).toEqual({ device_id: 'a' })
    expect((await c.request('identify', { device_id: 'a' })).data).toEqual({ device_id: 'a' })
    expect((await c.request('identify', { device_id: 'b' })).error.code).toBe('conflict')
  })

  it('answers 426 to a plain HTTP GET on /ws', async () => {
    const res = await request(`${gate.url}/ws`)
    expect(res.statusCode).toBe(426)
    expect(await res.body.json()).toMatchObject({ success: false, code: 'upgrade_required' })
  })

  it('refuses the upgrade when ?device_id= is invalid', async () => {
    await expect(TestClient.connect(`${gate.wsUrl}/ws?device_id=${encodeURIComponent('a\u0001b')}`)).rejects.toThrow(/400/)
  })
})

describe('routing', () => {
  it("sends each event to the service seed 001's table names", async () => {
    const c = await connect()
    const cases: Array<[string, string]> = [
      ['lobby.join', 'lobby'],
      ['role.assign', 'lobby'],
      ['measurement.create_session', 'lobby'],
      ['measurement.recording_uploaded', 'lobby'],
      ['measurement.create_job', 'measurement'],
      ['analysis.run', 'measurement'],
      ['simulation.run', 'simulation'],
    ]
    for (const [event, service] of cases) {
      const res = await c.request(event)
      expect(res, event).toMatchObject({ type: 'response', event, data: { service, event } })
    }
    // The simulation service URL has a base path: /sim/ + gateway/handle.
    expect(simulation.calls[0]!.path).toBe('/sim/gateway/handle')
  })

  it('answers unknown_event for an event no route matches', async () => {
    const c = await connect()
    expect(await c.request('chat.send', {}, 'r9')).toMatchObject({
      type: 'error',
      event: 'chat.send',
      request_id: 'r9',
      error: { code: 'unknown_event' },
    })
  })

  it('turns upstream answers into responses and errors', async () => {
    const c = await connect()
    expect((await c.request('lobby.full')).error).toEqual({ code: 'lobby_full', message: 'Lobby is full' })
    expect((await c.request('lobby.crash')).error).toEqual({ code: 'upstream_error', message: 'Traceback...' })
    expect((await c.request('lobby.html')).error.code).toBe('upstream_error')
    expect(await c.request('lobby.empty', {}, 'e1')).toEqual({ type: 'response', event: 'lobby.empty', request_id: 'e1', data: null })
  })

  it('answers upstream_timeout when a service is slower than HTTP_TIMEOUT_SECONDS', async () => {
    const c = await connect()
    const started = Date.now()
    expect((await c.request('lobby.slow')).error.code).toBe('upstream_timeout')
    expect(Date.now() - started).toBeLessThan(1_500)
  })

  it('answers upstream_unavailable when a service is down', async () => {
    const port = await freePort()
    const g = await startGate({ services: { lobby: { url: `http://127.0.0.1:${port}` } } })
    const c = await TestClient.connect(`${g.wsUrl}/ws?device_id=x`)
    clients.push(c)
    expect((await c.request('lobby.create')).error.code).toBe('upstream_unavailable')
  })
})

describe('deadlines and limits', () => {
  it('counts the wait for a pooled connection in the deadline', async () => {
    const g = await startGate({ services: { lobby: { url: lobby.url, connections: 1 } }, httpTimeoutSeconds: 0.5 })
    const c = await TestClient.connect(`${g.wsUrl}/ws?device_id=q`)
    clients.push(c)
    const started = Date.now()
    const answers = await Promise.all([c.request('lobby.hang'), c.request('lobby.hang'), c.request('lobby.hang')])
    expect(answers.map((a) => a.error?.code)).toEqual(['upstream_timeout', 'upstream_timeout', 'upstream_timeout'])
    expect(Date.now() - started).toBeLessThan(1_200)
  })

  it('caps the calls one connection may have waiting', async () => {
    const g = await startGate({ services: { lobby: { url: lobby.url } }, httpTimeoutSeconds: 0.5, ws: { maxInflight: 2 } })
    const c = await TestClient.connect(`${g.wsUrl}/ws?device_id=inflight`)
    clients.push(c)
    const answers = await Promise.all([1, 2, 3].map((i) => c.request('lobby.hang', {}, `h${i}`)))
    const third = answers.find((a) => a.request_id === 'h3')!
    expect(third.error).toEqual({ code: 'rate_limited', message: 'Too many events waiting for an answer (2); wait for one' })
    // Once the first two have timed out, the connection may send again.
    expect((await c.request('lobby.create')).type).toBe('response')
  })

  it('stops the service call when the client disconnects', async () => {
    let aborted = false
    const hung = await startUpstream((req) => req.on('close', () => (aborted = true)))
    try {
      const g = await startGate({ services: { lobby: { url: hung.url } }, httpTimeoutSeconds: 30 })
      const c = await TestClient.connect(`${g.wsUrl}/ws?device_id=leaver`)
      c.send({ event: 'lobby.create', request_id: 'x', data: {} })
      await sleep(100)
      c.close()
      await waitFor(() => aborted, 3_000, 'the upstream call to be aborted')
    } finally {
      await hung.close()
    }
  })

  it('keeps answering events while proxied uploads hold every proxy connection', async () => {
    const g = await startGate({
      services: { lobby: { url: lobby.url }, measurement: { url: lobby.url, connections: 2 } },
      httpTimeoutSeconds: 5,
    })
    const port = Number(new URL(g.url).port)
    const uploads = [1, 2, 3].map(() => {
      const s = tcpConnect(port, '127.0.0.1')
      s.on('error', () => undefined)
      s.write('POST /v1/jobs/slow HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\nx')
      return s
    })
    await waitFor(() => g.server.upstreams.get('measurement').proxy.slots.inUse === 2, 2_000, 'the proxy lane to fill')
    const c = await TestClient.connect(`${g.wsUrl}/ws?device_id=e`)
    clients.push(c)
    const started = Date.now()
    expect((await c.request('lobby.create')).type).toBe('response')
    expect(Date.now() - started).toBeLessThan(1_000)
    for (const u of uploads) u.destroy()
  })

  it('answers upstream_busy when too many event calls wait for the service', async () => {
    const g = await startGate({ services: { lobby: { url: lobby.url, connections: 1 } }, httpTimeoutSeconds: 1 })
    const c = await TestClient.connect(`${g.wsUrl}/ws?device_id=busy`)
    clients.push(c)
    const answers = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => c.request('lobby.hang', {}, `b${i}`)))
    const codes = answers.map((a) => a.error?.code)
    expect(codes.filter((x) => x === 'upstream_busy')).toHaveLength(1)
    expect(codes.filter((x) => x === 'upstream_timeout')).toHaveLength(5)
  })

  it('answers bad_request, not an upstream error, for data nested too deeply to send on', async () => {
    const c = await connect()
    c.send(`{"event":"lobby.create","request_id":"deep","data":${'['.repeat(20_000)}${']'.repeat(20_000)}}`)
    expect((await c.next()).error).toEqual({ code: 'bad_request', message: "'data' is nested too deeply" })
    expect(lobby.calls).toHaveLength(0)
  })

  it('delivers a reply larger than the send-queue cap to a client that keeps up', async () => {
    const c = await connect('?device_id=big-reader')
    const res = await c.request('lobby.big')
    expect(res.type).toBe('response')
    expect(res.data.blob).toHaveLength(2 * 1024 * 1024)
    expect((await c.request('lobby.create')).type).toBe('response')
  })

  it('refuses a reply over 4 MiB and frees its connection for the next call', async () => {
    const g = await startGate({ services: { lobby: { url: lobby.url, connections: 1 } }, httpTimeoutSeconds: 5 })
    const c = await TestClient.connect(`${g.wsUrl}/ws?device_id=huge`)
    clients.push(c)
    expect((await c.request('lobby.huge')).error).toEqual({ code: 'upstream_error', message: 'Service lobby sent a reply over 4194304 bytes' })
    expect((await c.request('lobby.html')).error.code).toBe('upstream_error')
    expect((await c.request('lobby.create')).data).toEqual({ lobby_id: 'L1', code: 'ABC123' })
    expect(g.server.upstreams.get('lobby').events.slots.inUse).toBe(0)
  })

  it('rate limits WebSocket upgrades per client IP', async () => {
    const g = await startGate({ rateLimit: { rps: 0.01, burst: 2 } })
    const a = await TestClient.connect(`${g.wsUrl}/ws?device_id=u1`)
    const b = await TestClient.connect(`${g.wsUrl}/ws?device_id=u2`)
    clients.push(a, b)
    await expect(TestClient.connect(`${g.wsUrl}/ws?device_id=u3`)).rejects.toThrow(/429/)
  })
})

describe('protection', () => {
  it('answers malformed messages without closing the connection or crashing', async () => {
    const c = await connect()
    const bad: Array<[string | Buffer, string]> = [
      ['not json', 'bad_request'],
      ['[1,2,3]', 'bad_request'],
      ['null', 'bad_request'],
      ['{"request_id":"r"}', 'bad_request'],
      ['{"event":{"x":1}}', 'bad_request'],
      ['{"event":"x","request_id":[]}', 'bad_request'],
      [Buffer.from([0xff, 0xfe, 0x00, 0x01]), 'bad_request'],
      ['['.repeat(30_000) + ']'.repeat(30_000), 'bad_request'],
      [JSON.stringify({ event: 'e'.repeat(1_000) }), 'bad_request'],
    ]
    for (const [raw] of bad) c.send(raw)
    for (const [, code] of bad) expect((await c.next()).error.code).toBe(code)
    const ok = await c.request('lobby.create')
    expect(ok.type).toBe('response')
    const health = await request(`${gate.url}/healthz`)
    expect(health.statusCode).toBe(200)
    await health.body.dump()
  })

  it('closes with 1009 when a message is larger than MAX_MESSAGE_BYTES', async () => {
    const g = await startGate({ maxMessageBytes: 1024 })
    const c = await TestClient.connect(`${g.wsUrl}/ws?device_id=big`)
    c.send(JSON.stringify({ event: 'lobby.create', data: { blob: 'x'.repeat(2_000) } }))
    expect((await c.closed).code).toBe(1009)
  })

  it('closes with 1007 on a text frame that is not UTF-8', async () => {
    const c = await connect()
    // ws validates UTF-8 only on text frames; send the raw frame ourselves.
    const socket = (c.ws as unknown as { _socket: Socket })._socket
    const payload = Buffer.from([0xc3, 0x28])
    const mask = Buffer.from([1, 2, 3, 4])
    const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))
    socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]))
    expect((await c.closed).code).toBe(1007)
  })

  it('rate limits each connection with a token bucket', async () => {
    const g = await startGate({ services: { lobby: { url: lobby.url } }, rateLimit: { rps: 5, burst: 3 } })
    const c = await TestClient.connect(`${g.wsUrl}/ws?device_id=rl`)
    clients.push(c)
    const answers = await Promise.all([1, 2, 3, 4].map((i) => c.request('lobby.create', {}, `r${i}`)))
    expect(answers.map((a) => a.type)).toEqual(['response', 'response', 'response', 'error'])
    expect(answers[3]!.error.code).toBe('rate_limited')
    expect(answers[3]!.error.retry_after_ms).toBeGreaterThan(0)
    expect(answers[3]!.error.retry_after_ms).toBeLessThanOrEqual(200)
    await sleep(answers[3]!.error.retry_after_ms + 20)
    expect((await c.request('lobby.create')).type).toBe('response')
    // Another connection has its own bucket.
    const other = await TestClient.connect(`${g.wsUrl}/ws?device_id=rl2`)
    clients.push(other)
    expect((await other.request('lobby.create')).type).toBe('response')
  })

  it('cuts off a client that stops answering pings, and keeps one that answers', async () => {
    const g = await startGate({ ws: { pingIntervalMs: 150 } })
    const silent = new WebSocket(`${g.wsUrl}/ws?device_id=silent`, { autoPong: false })
    const closed = new Promise<number>((r) => silent.once('close', (code) => r(code)))
    const healthy = await TestClient.connect(`${g.wsUrl}/ws?device_id=healthy`)
    clients.push(healthy)
    expect(await closed).toBe(1006)
    await sleep(400)
    expect(healthy.ws.readyState).toBe(WebSocket.OPEN)
    const metrics = await (await request(`${g.url}/metrics`)).body.text()
    expect(metrics).toContain('roomgate_ws_disconnects_total{reason="ping_timeout"} 1')
  })
})

describe('connection caps', () => {
  const refusal = (url: string) =>
    new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(url)
      ws.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0)
        ws.terminate()
      })
      ws.once('open', () => reject(new Error('the upgrade was accepted')))
      ws.once('error', () => undefined)
    })

  it('refuses an upgrade past ws.maxConnectionsPerIp with 429, and takes it again once one closes', async () => {
    const g = await startGate({ ws: { maxConnectionsPerIp: 2 } })
    const a = await TestClient.connect(`${g.wsUrl}/ws?device_id=cap-a`)
    const b = await TestClient.connect(`${g.wsUrl}/ws?device_id=cap-b`)
    clients.push(a, b)
    expect(await refusal(`${g.wsUrl}/ws?device_id=cap-c`)).toBe(429)
    a.close()
    const c = await waitFor(async () => TestClient.connect(`${g.wsUrl}/ws?device_id=cap-c`).catch(() => undefined), 2_000, 'a free slot')
    clients.push(c)
    expect((await c.request('lobby.create')).type).toBeDefined()
  })

  it('refuses an upgrade past ws.maxConnections with 503 server_busy', async () => {
    const g = await startGate({ ws: { maxConnections: 1 } })
    const a = await TestClient.connect(`${g.wsUrl}/ws?device_id=only`)
    clients.push(a)
    expect(await refusal(`${g.wsUrl}/ws?device_id=second`)).toBe(503)
  })
})

describe('metrics', () => {
  it('counts connections, messages and upstream latency', async () => {
    const c = await connect()
    await c.request('lobby.create')
    await c.request('chat.unknown')
    const text = await waitFor(async () => {
      const t = await (await request(`${gate.url}/metrics`)).body.text()
      return t.includes('roomgate_ws_messages_total{direction="out"} 2') ? t : undefined
    })
    expect(text).toContain('roomgate_ws_connections 1')
    expect(text).toContain('roomgate_ws_devices 1')
    expect(text).toContain('roomgate_ws_messages_total{direction="in"} 2')
    expect(text).toContain('roomgate_ws_events_total{service="lobby",outcome="ok"} 1')
    expect(text).toMatch(/roomgate_upstream_latency_seconds_count\{service="lobby",kind="event"\} 1/)
    expect(text).toMatch(/process_resident_memory_bytes \d+/)
  })
})
