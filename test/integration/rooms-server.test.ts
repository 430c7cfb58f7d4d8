/**
 * Seed 003 end to end: POST /v2/room_server, the rooms listing, presence over
 * /ws and HTTP, idle cleanup, broadcasts to rooms, and several instances on
 * one real Redis racing on placement.
 */
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startGate, type TestGate } from '../helpers/gate.js'
import { freePort, sleep, waitFor } from '../helpers/ports.js'
import { runCli } from '../helpers/process.js'
import { redisSuite } from '../helpers/redis-suite.js'
import { TestClient } from '../helpers/ws-client.js'

const { redis, clients } = redisSuite()

// Tests poll the API from one address: limits far above their load, unless a test sets its own.
const onRedis = (settings: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}) =>
  startGate({ auth: { internalToken: 't' }, rateLimit: { rps: 10_000, burst: 10_000 }, ...settings }, { REDIS_URL: redis.url, ...env })

async function json(gate: TestGate, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown) {
  const res = await request(`${gate.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> & { rooms?: Array<Record<string, unknown>> } }
}

async function device(gate: TestGate, id: string): Promise<TestClient> {
  const c = await TestClient.connect(`${gate.wsUrl}/ws?device_id=${id}`)
  clients.push(c)
  return c
}

describe('POST /v2/room_server', () => {
  it("answers seed 003's shape, sticky per room, least-loaded across gxy1…gxy12", async () => {
    const gate = await onRedis()
    expect(await json(gate, 'POST', '/v2/room_server', { room: 2171 })).toEqual({ status: 200, body: { janus: 'gxy1' } })
    expect(await json(gate, 'POST', '/v2/room_server', { room: 2171 })).toEqual({ status: 200, body: { janus: 'gxy1' } })
    expect((await json(gate, 'POST', '/v2/room_server', { room: '2171' })).body).toEqual({ janus: 'gxy1' })
    expect((await json(gate, 'POST', '/v2/room_server', { room: 'other' })).body).toEqual({ janus: 'gxy2' })
  })

  it('takes its nodes from AVAILABLE_JANUS_SERVERS', async () => {
    const gate = await onRedis({}, { AVAILABLE_JANUS_SERVERS: 'janus-a, janus-b' })
    expect((await json(gate, 'POST', '/v2/room_server', { room: 1 })).body).toEqual({ janus: 'janus-a' })
    expect((await json(gate, 'POST', '/v2/room_server', { room: 2 })).body).toEqual({ janus: 'janus-b' })
    expect((await json(gate, 'POST', '/v2/room_server', { room: 3 })).body).toEqual({ janus: 'janus-a' })
  })

  it('answers 400 to a bad body and writes nothing', async () => {
    const gate = await onRedis()
    for (const body of ['{', {}, { room: null }, { room: {} }, { room: 'a|b' }, { room: '' }, { room: '..' }, { room: 1e21 }, { room: 1, extra: true }, { room: 1, pool: 'nope' }]) {
      const res = await json(gate, 'POST', '/v2/room_server', body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(res.body).toMatchObject({ success: false, code: 'bad_request' })
    }
    expect((await json(gate, 'GET', '/rooms')).body).toEqual({ rooms: [] })
  })

  it('shares the per-IP rate limit with the proxy', async () => {
    const gate = await onRedis({ rateLimit: { rps: 0.01, burst: 3 } })
    const statuses = []
    for (let i = 0; i < 4; i++) statuses.push((await json(gate, 'POST', '/v2/room_server', { room: i })).status)
    expect(statuses).toEqual([200, 200, 200, 429])
  })

  it('places one new room on one node when instances race for it', async () => {
    const [a, b, c] = await Promise.all([onRedis(), onRedis(), onRedis()])
    const all = [a, b, c]
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => json(all[i % 3]!, 'POST', '/v2/room_server', { room: 'contested' })),
    )
    expect(new Set(answers.map((x) => x.body.janus)).size).toBe(1)
    // And over WebSocket joins on every instance at once.
    const devices = await Promise.all(Array.from({ length: 9 }, (_, i) => device(all[i % 3]!, `d${i}`)))
    const joins = await Promise.all(devices.map((d) => d.request('room.join', { room: 'contested-ws' })))
    expect(new Set(joins.map((j) => j.data.node)).size).toBe(1)
    expect((await json(a, 'GET', '/rooms/contested-ws')).body).toMatchObject({ users: 9, state: 'active' })
  })
})

describe('presence', () => {
  it('counts WebSocket users per room and places new rooms on the least-loaded node', async () => {
    const gate = await onRedis({ rooms: { pools: { janus: { strategy: 'least-loaded', nodes: ['n1', 'n2'] } } } })
    const [d1, d2, d3] = await Promise.all([device(gate, 'd1'), device(gate, 'd2'), device(gate, 'd3')])
    expect(await d1.request('room.join', { room: 2171 }, 'j1')).toEqual({
      type: 'response',
      event: 'room.join',
      request_id: 'j1',
      data: { room: '2171', node: 'n1', pool: 'janus' },
    })
    await d2.request('room.join', { room: 2171 })
    await d3.request('room.join', { room: 'b', user_id: 'teacher' })
    const listed = (await json(gate, 'GET', '/rooms')).body.rooms!
    expect(listed.map((r) => [r.room, r.node, r.users, r.state]).sort()).toEqual([
      ['2171', 'n1', 2, 'active'],
      ['b', 'n2', 1, 'active'],
    ])
    expect(Date.parse(listed[0]!.lastUsedAt as string)).toBeGreaterThan(Date.now() - 10_000)
    // n1 has 2 users, n2 has 1: a new room goes to n2.
    expect((await json(gate, 'POST', '/v2/room_server', { room: 'c' })).body).toEqual({ janus: 'n2' })

    expect((await d1.request('room.leave', { room: 2171 })).data).toEqual({ room: '2171', pool: 'janus', left: true })
    expect((await d1.request('room.leave', { room: 2171 })).data.left).toBe(false)
    d2.close()
    await waitFor(async () => (await json(gate, 'GET', '/rooms/2171')).body.users === 0, 3_000, 'presence to end on disconnect')
    expect((await json(gate, 'GET', '/rooms/2171')).body.state).toBe('idle')
  })

  it('counts a user once however many devices and rooms', async () => {
    const gate = await onRedis()
    const [a, b] = await Promise.all([device(gate, 'phone'), device(gate, 'laptop')])
    await a.request('room.join', { room: 'r', user_id: 'alice' })
    await b.request('room.join', { room: 'r', user_id: 'alice' })
    expect((await json(gate, 'GET', '/rooms/r')).body.users).toBe(1)
    a.close()
    await sleep(200)
    expect((await json(gate, 'GET', '/rooms/r')).body.users).toBe(1) // the laptop is still there
  })

  it('refuses bad joins', async () => {
    const gate = await onRedis()
    const d = await device(gate, 'd')
    expect((await d.request('room.join', { room: 'a b' })).error.code).toBe('bad_request')
    expect((await d.request('room.join', {})).error.code).toBe('bad_request')
    expect((await d.request('room.join', { room: 'r', user_id: '' })).error.code).toBe('bad_request')
    expect((await d.request('room.join', { room: 'r', pool: 'nope' })).error.code).toBe('bad_request')
    await d.request('room.join', { room: 'r', user_id: 'x' })
    expect((await d.request('room.join', { room: 'r', user_id: 'y' })).error.code).toBe('conflict')
    const anonymous = await TestClient.connect(`${gate.wsUrl}/ws`)
    clients.push(anonymous)
    expect((await anonymous.request('room.join', { room: 'r' })).error.code).toBe('unidentified')
  })

  it('holds presence for HTTP clients while they send heartbeats', async () => {
    const gate = await onRedis({ rooms: { presenceTtlSeconds: 1 } })
    const put = () => json(gate, 'PUT', '/v2/rooms/2171/presence/alice')
    const joined = await put()
    expect(joined).toEqual({
      status: 200,
      body: { room: '2171', pool: 'janus', node: 'gxy1', user: 'alice', expiresInSeconds: 1, leaveToken: expect.any(String) },
    })
    await json(gate, 'PUT', '/v2/rooms/2171/presence/bob')
    expect((await json(gate, 'GET', '/rooms/2171')).body.users).toBe(2)
    for (let i = 0; i < 3; i++) {
      await sleep(500)
      await put() // alice keeps beating; bob does not
    }
    expect((await json(gate, 'GET', '/rooms/2171')).body.users).toBe(1)
    const left = await request(`${gate.url}/v2/rooms/2171/presence/alice`, { method: 'DELETE', headers: { 'x-presence-token': joined.body.leaveToken as string } })
    expect(await left.body.json()).toEqual({ success: true, room: '2171', pool: 'janus', user: 'alice' })
    expect((await json(gate, 'GET', '/rooms/2171')).body.users).toBe(0)
    expect((await json(gate, 'PUT', '/v2/rooms/a%7Cb/presence/x')).status).toBe(400)
    expect((await json(gate, 'GET', '/rooms/2171?pool=nope')).status).toBe(400)
  })

  // Regression: on the open API (serverApiAuth none) anyone could end anyone's HTTP presence.
  it("ends HTTP presence only with the PUT's leave token or a bearer token, on any instance", async () => {
    const a = await onRedis({ auth: { internalToken: 't', bearerTokens: ['ops-token'] } })
    const b = await onRedis({ auth: { internalToken: 't', bearerTokens: ['ops-token'] } })
    const put = async (user: string) => (await json(a, 'PUT', `/v2/rooms/lecture/presence/${user}`)).body.leaveToken as string
    const tokenAlice = await put('alice')
    expect(await put('alice')).toBe(tokenAlice) // a heartbeat gets the same token
    await put('bob')
    const del = async (user: string, headers: Record<string, string>) => {
      const res = await request(`${b.url}/v2/rooms/lecture/presence/${user}`, { method: 'DELETE', headers })
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> }
    }
    expect((await del('alice', {})).status).toBe(401)
    expect((await del('alice', { 'x-presence-token': 'forged' })).status).toBe(401)
    // Bob's token does not end Alice's presence.
    const tokenBob = (await json(a, 'PUT', '/v2/rooms/lecture/presence/bob')).body.leaveToken as string
    expect((await del('alice', { 'x-presence-token': tokenBob })).status).toBe(401)
    expect((await json(a, 'GET', '/rooms/lecture')).body.users).toBe(2)
    expect(await del('alice', { 'x-presence-token': tokenAlice })).toMatchObject({ status: 200, body: { success: true, user: 'alice' } })
    expect(await del('bob', { authorization: 'Bearer ops-token' })).toMatchObject({ status: 200 })
    expect((await json(a, 'GET', '/rooms/lecture')).body.users).toBe(0)
  })

  it('keeps presence for the second connection of a user when the first leaves while it joins', async () => {
    const gate = await onRedis()
    const [a, b] = await Promise.all([device(gate, 'phone'), device(gate, 'laptop')])
    await a.request('room.join', { room: 'shared', user_id: 'alice' })
    await Promise.all([b.request('room.join', { room: 'shared', user_id: 'alice' }), a.request('room.leave', { room: 'shared' })])
    expect((await json(gate, 'GET', '/rooms/shared')).body.users).toBe(1)
    const r = redis.client()
    expect(await r.zcard('rg:presence:janus:shared')).toBe(1)
    r.disconnect()
  })

  it('drops a departed connection at once even when Redis cannot be told', async () => {
    const gate = await onRedis({ rooms: { presenceTtlSeconds: 1 }, redis: { commandTimeoutMs: 300 } })
    const d = await device(gate, 'flaky')
    await d.request('room.join', { room: 'r1' })
    await d.request('room.join', { room: 'r2' })
    redis.pause()
    try {
      d.close()
      await waitFor(() => gate.server.rooms.presence.size === 0, 2_000, 'local presence to go')
    } finally {
      redis.resume()
    }
    // Nothing renews the entries any more: they expire.
    await waitFor(async () => (await json(gate, 'GET', '/rooms/r2')).body.users === 0, 5_000, 'entries to expire')
  })

  it('takes a fractional TTL on the Redis engine', async () => {
    const gate = await onRedis({ rooms: { presenceTtlSeconds: 16.1 } })
    const d = await device(gate, 'd')
    expect((await d.request('room.join', { room: 'r' })).type).toBe('response')
    expect((await json(gate, 'PUT', '/v2/rooms/r/presence/u')).body.expiresInSeconds).toBe(16.1)
  })

  it('places a room again on its node when the store lost it while its users were still there', async () => {
    const gate = await onRedis({ rooms: { presenceTtlSeconds: 1 } })
    const d = await device(gate, 'd')
    await d.request('room.join', { room: 'lost' })
    await json(gate, 'POST', '/v2/room_server', { room: 'other' })
    const r = redis.client()
    // As after a partition longer than TTL + idle timeout: the cleaner dropped the room.
    await r.hdel('rg:assign:janus', 'lost')
    await r.del('rg:presence:janus:lost')
    await waitFor(async () => (await json(gate, 'GET', '/rooms/lost')).status === 200, 3_000, 'the room to be placed again')
    expect((await json(gate, 'GET', '/rooms/lost')).body).toMatchObject({ node: 'gxy1', users: 1 })
    expect(d.messages.filter((m) => m.event === 'room.moved')).toEqual([])
    r.disconnect()
  })

  it("expires a crashed instance's users, then releases their rooms", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roomgate-crash-'))
    const file = join(dir, 'c.yaml')
    writeFileSync(file, 'rooms: { presenceTtlSeconds: 1, idleTimeoutSeconds: 1 }\n')
    const port = await freePort()
    const crashing = runCli(['start', '--config', file], { PORT: String(port), HOST: '127.0.0.1', REDIS_URL: redis.url })
    await crashing.waitForLine('roomgate listening')
    const observer = await onRedis({ rooms: { presenceTtlSeconds: 1, idleTimeoutSeconds: 1 } })
    const d = await TestClient.connect(`ws://127.0.0.1:${port}/ws?device_id=doomed`)
    await d.request('room.join', { room: 'crash-room' })
    expect((await json(observer, 'GET', '/rooms/crash-room')).body.users).toBe(1)
    crashing.proc.kill('SIGKILL')
    await crashing.exited
    await waitFor(async () => (await json(observer, 'GET', '/rooms/crash-room')).body.users === 0, 4_000, 'users to expire')
    await waitFor(async () => (await json(observer, 'GET', '/rooms/crash-room')).status === 404, 5_000, 'the room to be released')
  })
})

describe('cleanup', () => {
  it('releases a room idle for idleTimeoutSeconds, within a couple of seconds', async () => {
    const gate = await onRedis({ rooms: { idleTimeoutSeconds: 1 } })
    const d = await device(gate, 'd')
    await d.request('room.join', { room: 'busy' })
    await json(gate, 'POST', '/v2/room_server', { room: 'empty' })
    const placed = Date.now()
    await waitFor(async () => (await json(gate, 'GET', '/rooms/empty')).status === 404, 4_000, 'the idle room to go')
    const gone = Date.now() - placed
    expect(gone).toBeGreaterThanOrEqual(900)
    expect(gone).toBeLessThan(3_000)
    expect((await json(gate, 'GET', '/rooms/busy')).body.users).toBe(1)
    // Once its last user leaves, the busy room goes the same way.
    await d.request('room.leave', { room: 'busy' })
    await waitFor(async () => (await json(gate, 'GET', '/rooms/busy')).status === 404, 4_000, 'the emptied room to go')
    expect(gate.logs.some((l) => l.includes('idle rooms released their nodes'))).toBe(true)
  })

  it('works the same on the memory engine', async () => {
    const gate = await startGate({ rooms: { idleTimeoutSeconds: 0.5 }, rateLimit: { rps: 10_000, burst: 10_000 } })
    expect((await json(gate, 'POST', '/v2/room_server', { room: 7 })).body).toEqual({ janus: 'gxy1' })
    await waitFor(async () => (await json(gate, 'GET', '/rooms/7')).status === 404, 3_000, 'the idle room to go')
  })
})

describe('broadcast to rooms', () => {
  it('reaches every device in the rooms on every instance, once per room it is in', async () => {
    const [a, b] = await Promise.all([onRedis(), onRedis()])
    const [onA, onB, elsewhere, both] = await Promise.all([device(a, 'a1'), device(b, 'b1'), device(b, 'b2'), device(a, 'a2')])
    await onA.request('room.join', { room: 'r1' })
    await onB.request('room.join', { room: 'r1' })
    await elsewhere.request('room.join', { room: 'r2' })
    await both.request('room.join', { room: 'r1' })
    await both.request('room.join', { room: 'r3' })
    const res = await request(`${a.url}/internal/broadcast`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-internal-token': 't' },
      body: JSON.stringify({ event: 'room.updated', data: { x: 1 }, targets: { rooms: ['r1', 'r3'] } }),
    })
    // Each room is its own stream: `both` gets the event on r1 and on r3, each with that stream's offset.
    expect(await res.body.json()).toEqual({ success: true, delivered: 4, instances: 2, unconfirmed: 0 })
    const event = { type: 'event', event: 'room.updated', data: { x: 1 } }
    for (const c of [onA, onB, both]) expect(await c.next((m) => m.type === 'event')).toEqual({ ...event, stream: 'room:r1', offset: 1 })
    expect(await both.next((m) => m.type === 'event')).toEqual({ ...event, stream: 'room:r3', offset: 1 })
    await sleep(100)
    expect(elsewhere.messages.filter((m) => m.type === 'event')).toEqual([])
    expect(both.messages.filter((m) => m.type === 'event')).toEqual([])
  })

  it('keeps a connection in a room until it has left it in every pool it joined it in', async () => {
    const pools = { janus: { strategy: 'least-loaded', nodes: ['n1'] }, other: { strategy: 'least-loaded', nodes: ['m1'] } }
    const gate = await startGate({ auth: { internalToken: 't' }, rooms: { pools, serverPool: 'janus' } })
    const c = await TestClient.connect(`${gate.wsUrl}/ws?device_id=d`)
    clients.push(c)
    await c.request('room.join', { room: 'r' })
    await c.request('room.join', { room: 'r', pool: 'other' })
    const send = async (n: number) => {
      const res = await request(`${gate.url}/internal/broadcast`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-internal-token': 't' },
        body: JSON.stringify({ event: 'room.note', data: { n }, targets: { rooms: ['r'] } }),
      })
      return ((await res.body.json()) as { delivered: number }).delivered
    }
    expect(await send(1)).toBe(1)
    expect((await c.request('room.leave', { room: 'r' })).data).toEqual({ room: 'r', pool: 'janus', left: true })
    expect(await send(2)).toBe(1)
    expect((await c.request('room.leave', { room: 'r', pool: 'other' })).data.left).toBe(true)
    expect(await send(3)).toBe(0)
    expect((await c.request('recover', { since: { 'room:r': { epoch: 'x', offset: 0 } } })).error.code).toBe('forbidden')
  })

  it('reaches a device in several named rooms once when history is off', async () => {
    const gate = await startGate({ auth: { internalToken: 't' }, realtime: { history: { size: 0 } } })
    const c = await TestClient.connect(`${gate.wsUrl}/ws?device_id=d`)
    clients.push(c)
    await c.request('room.join', { room: 'r1' })
    await c.request('room.join', { room: 'r2' })
    const res = await request(`${gate.url}/internal/broadcast`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-internal-token': 't' },
      body: JSON.stringify({ event: 'room.updated', data: {}, targets: { rooms: ['r1', 'r2'], device_ids: ['d'] } }),
    })
    expect(await res.body.json()).toMatchObject({ delivered: 1 })
    expect(await c.next((m) => m.type === 'event')).toEqual({ type: 'event', event: 'room.updated', data: {} })
    await sleep(100)
    expect(c.messages.filter((m) => m.type === 'event')).toEqual([])
  })
})

describe('engine outage', () => {
  it('answers 503 at once while Redis is down', async () => {
    const gate = await onRedis()
    await redis.kill()
    try {
      const started = Date.now()
      const res = await json(gate, 'POST', '/v2/room_server', { room: 1 })
      expect(res).toMatchObject({ status: 503, body: { code: 'engine_unavailable' } })
      expect(Date.now() - started).toBeLessThan(1_000)
    } finally {
      await redis.start()
    }
  })
})
