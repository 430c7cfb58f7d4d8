/**
 * The front door under slow and stray clients (issue 11), with raw sockets so
 * every byte and every pause is the test's: request heads and bodies that
 * stall, upgrades on routes that are not WebSocket routes, two Host headers,
 * and one client IP holding many uploads. Timeouts are configured small; the
 * tests wait for the observable answer (a 408, a close), never for a duration.
 */
import { connect, type Socket } from 'node:net'
import type { IncomingMessage } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { closeGates, startGate, type TestGate } from '../helpers/gate.js'
import { waitFor } from '../helpers/ports.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { TestClient } from '../helpers/ws-client.js'

const upstreams: TestUpstream[] = []
const sockets: Socket[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  await closeGates()
  for (const u of upstreams.splice(0)) await u.close()
})

/** A raw connection: what it received, and a promise of its close. */
function raw(gate: TestGate): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const port = new URL(gate.url).port
  return new Promise((resolve, reject) => {
    let data = ''
    const socket = connect(Number(port), '127.0.0.1')
    sockets.push(socket)
    const closed = new Promise<void>((r) => socket.once('close', () => r()))
    socket.on('data', (c: Buffer) => (data += c.toString('latin1')))
    socket.on('error', () => undefined)
    socket.once('connect', () => resolve({ socket, received: () => data, closed }))
    socket.once('error', reject)
  })
}

const statusOf = (text: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)

/** An upstream that records uploads as they arrive and answers once a body ends. */
async function recordingUpstream() {
  const started: IncomingMessage[] = []
  const aborted: string[] = []
  const up = await startUpstream((req, res) => {
    started.push(req)
    req.on('data', () => undefined)
    req.on('aborted', () => aborted.push(req.url ?? ''))
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end('stored')
    })
  })
  upstreams.push(up)
  return { up, started, aborted }
}

const SMALL = { headersTimeoutMs: 300, bodyIdleTimeoutMs: 300 }

describe('request heads', () => {
  it('answers 408 and closes a connection whose head stalls (slowloris), or that never sends one', async () => {
    const gate = await startGate({ http: SMALL })
    const slow = await raw(gate)
    slow.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: ')
    const idle = await raw(gate)
    await Promise.all([slow.closed, idle.closed])
    expect(statusOf(slow.received())).toBe(408)
    expect(statusOf(idle.received())).toBe(408)
  })

  it('closes an idle keep-alive connection after keepAliveTimeoutMs, also after a body nobody read', async () => {
    const gate = await startGate({ http: { keepAliveTimeoutMs: 300 } })
    const c = await raw(gate)
    c.socket.write('POST /nothing-here HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello')
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
    await c.closed
    expect(c.received().match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 404', 'HTTP/1.1 200'])
  })

  it('refuses a request with two Host headers (RFC 9112 §3.2)', async () => {
    const gate = await startGate({})
    const c = await raw(gate)
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n')
    await c.closed
    expect(statusOf(c.received())).toBe(400)
    expect(c.received()).toContain('exactly one Host header')
  })
})

describe('request bodies', () => {
  it.each([
    { desc: '/internal/broadcast', path: '/internal/broadcast', headers: 'X-Internal-Token: t\r\nContent-Type: application/json\r\n' },
    { desc: '/v2/room_server', path: '/v2/room_server', headers: 'Content-Type: application/json\r\n' },
  ])('answers 408 and closes when a body to $desc goes silent', async ({ path, headers }) => {
    const gate = await startGate({ http: SMALL, auth: { internalToken: 't' } })
    const c = await raw(gate)
    c.socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\n${headers}Content-Length: 100\r\n\r\n{"ev`)
    await c.closed
    expect(statusOf(c.received())).toBe(408)
    expect(c.received()).toContain('"code":"request_timeout"')
    // Answered once, through the error handler: no second reply, no unhandled error.
    expect(gate.logs.filter((l) => /"level":(40|50)/.test(l))).toEqual([])
  })

  it('keeps a body that trickles faster than the idle timeout, and answers when it is complete', async () => {
    const gate = await startGate({ http: { bodyIdleTimeoutMs: 1_000 }, auth: { internalToken: 't' } })
    const c = await raw(gate)
    const body = JSON.stringify({ event: 'x', data: {}, targets: { all: true } })
    c.socket.write(`POST /internal/broadcast HTTP/1.1\r\nHost: x\r\nX-Internal-Token: t\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`)
    for (const ch of body) {
      c.socket.write(ch)
      await new Promise((r) => setTimeout(r, 5))
    }
    await c.closed
    expect(statusOf(c.received())).toBe(200)
  })

  it('answers 408 to a stalled proxied upload and aborts its upstream call, freeing the connection', async () => {
    const { up, started, aborted } = await recordingUpstream()
    const gate = await startGate({ http: SMALL, services: { measurement: { url: up.url, connections: 1 } } })
    const c = await raw(gate)
    c.socket.write('POST /v1/jobs/upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\nfirst bytes')
    await c.closed
    expect(statusOf(c.received())).toBe(408)
    await waitFor(() => aborted.length === 1, 5_000, 'the upstream call to be aborted')
    expect(started).toHaveLength(1)
    // The only upstream connection is free again: the next upload goes through.
    const next = await fetch(`${gate.url}/v1/jobs/upload`, { method: 'POST', body: 'whole' })
    expect({ status: next.status, body: await next.text() }).toEqual({ status: 200, body: 'stored' })
    const metrics = await (await fetch(`${gate.url}/metrics`)).text()
    expect(metrics).toContain('roomgate_http_proxy_requests_total{service="measurement",status="408"} 1')
  })

  it('caps the bodies one client IP may be sending at once, and frees a slot when a body ends', async () => {
    const { up } = await recordingUpstream()
    const gate = await startGate({ http: { maxUploadsPerIp: 2, bodyIdleTimeoutMs: 60_000 }, services: { measurement: { url: up.url } } })
    const held = [await raw(gate), await raw(gate)]
    for (const c of held) c.socket.write('POST /v1/jobs/a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc')
    await waitFor(() => gate.server.frontDoor.uploadsFrom('127.0.0.1') === 2, 5_000, 'two uploads in progress')
    const third = await fetch(`${gate.url}/v1/jobs/b`, { method: 'POST', body: 'x' })
    expect(third.status).toBe(429)
    expect(((await third.json()) as { code: string }).code).toBe('rate_limited')
    // A GET carries no body and is not counted.
    expect((await fetch(`${gate.url}/healthz`)).status).toBe(200)
    held[0]!.socket.write('defghij')
    await waitFor(() => gate.server.frontDoor.uploadsFrom('127.0.0.1') === 1, 5_000, 'the finished upload to be released')
    const fourth = await fetch(`${gate.url}/v1/jobs/c`, { method: 'POST', body: 'x' })
    expect(fourth.status).toBe(200)
    held[1]!.socket.destroy()
    await waitFor(() => gate.server.frontDoor.uploadsFrom('127.0.0.1') === 0, 5_000, 'the abandoned upload to be released')
  })
})

describe('WebSocket upgrades', () => {
  const UPGRADE = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'

  it.each(['/healthz', '/api/v1/health', '/dashboard', '/metrics', '/v1/measurement/x'])(
    'refuses an upgrade on %s before the handshake and closes the connection',
    async (path) => {
      const gate = await startGate({})
      const c = await raw(gate)
      c.socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`)
      await c.closed
      expect(statusOf(c.received())).toBe(400)
      expect(c.received()).not.toContain('101 Switching Protocols')
    },
  )

  it('answers 404 to an upgrade on an unknown path and closes the connection', async () => {
    const gate = await startGate({})
    const c = await raw(gate)
    c.socket.write(`GET /nope HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`)
    await c.closed
    expect(statusOf(c.received())).toBe(404)
  })

  it('still upgrades /ws, under the per-IP connection cap', async () => {
    const gate = await startGate({ ws: { maxConnectionsPerIp: 1 } })
    const first = await TestClient.connect(`${gate.wsUrl}/ws?device_id=d1`)
    await expect(TestClient.connect(`${gate.wsUrl}/ws?device_id=d2`)).rejects.toThrow(/429/)
    const c = await raw(gate)
    c.socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`)
    await c.closed
    expect(statusOf(c.received())).toBe(400)
    first.close()
  })
})
