/**
 * Seed 000 end to end: the legacy API on an exclusive pool of fake recording
 * gateways (127.0.0.2 and 127.0.0.3 on one port), the monitor, and the exact
 * Redis value format, on a real redis-server.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { closeGates, startGate, type TestGate } from '../helpers/gate.js'
import { FakeGateways } from '../helpers/gateways.js'
import { sleep, waitFor } from '../helpers/ports.js'
import { RedisServer } from '../helpers/redis-server.js'

const redis = new RedisServer()
const TOKEN = '1234'
let gws: FakeGateways
let gate: TestGate

function settings(overrides: Record<string, unknown> = {}) {
  const at = `http://{node}:${gws.port}`
  return {
    auth: { bearerTokens: [TOKEN] },
    rooms: {
      legacyPool: 'gateways',
      pools: {
        gateways: {
          strategy: 'exclusive',
          nodes: ['127.0.0.2', '127.0.0.3'],
          progressUrl: `${at}/progress?room={room}`,
          startUrl: `${at}/start?room={room}`,
          stopUrl: `${at}/stop?room={room}`,
          monitorIntervalMs: 100,
          downAfterPolls: 2,
          ...overrides,
        },
      },
    },
  }
}

async function call(method: 'GET' | 'POST', path: string, token: string | null = TOKEN) {
  const res = await request(`${gate.url}${path}`, { method, headers: token === null ? {} : { authorization: `Bearer ${token}` } })
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> }
}

beforeAll(async () => {
  await redis.start()
})
afterAll(async () => {
  await redis.stop()
})
beforeEach(async () => {
  gws = await new FakeGateways(['127.0.0.2', '127.0.0.3']).start()
  // A long interval: these tests drive the monitor with tick().
  gate = await startGate(settings({ monitorIntervalMs: 60_000 }), { REDIS_URL: redis.url })
  await gate.server.rooms.monitor!.tick() // the start-up poll is over before a test begins
})
afterEach(async () => {
  await closeGates()
  await gws.close()
  const c = redis.client()
  await c.flushall()
  c.disconnect()
})

describe('seed 000 API', () => {
  it('needs a Bearer token from auth.bearerTokens', async () => {
    expect((await call('GET', '/status', null)).status).toBe(401)
    expect((await call('GET', '/status', 'nope')).status).toBe(401)
    expect(await call('GET', '/status')).toEqual({ status: 200, body: { success: true, rooms: [] } })
  })

  it("starts a room on a free gateway, writes seed 000's value, and tells the gateway", async () => {
    const started = await call('POST', '/start?room=math101')
    expect(started).toEqual({ status: 200, body: { success: true, room: 'math101', gateway: '127.0.0.2', state: 'started' } })
    const r = redis.client()
    expect(await r.get('room:math101')).toBe('127.0.0.2|started||')
    r.disconnect()
    const control = () => gws.calls.filter((c) => c.path !== '/progress')
    expect(control()).toEqual([{ node: '127.0.0.2', method: 'POST', path: '/start', room: 'math101' }])

    expect((await call('POST', '/start?room=math101')).body.gateway).toBe('127.0.0.2')
    expect(control()).toHaveLength(1) // a started room is not started again
    expect((await call('POST', '/start?room=physics')).body.gateway).toBe('127.0.0.3')
    const full = await call('POST', '/start?room=chemistry')
    expect(full).toMatchObject({ status: 503, body: { success: false, code: 'no_gateway_available' } })
  })

  it('stops a room but keeps it; only /progress is allowed on it afterwards', async () => {
    await call('POST', '/start?room=math101')
    expect(await call('POST', '/stop?room=math101')).toEqual({
      status: 200,
      body: { success: true, room: 'math101', gateway: '127.0.0.2', state: 'stopped' },
    })
    expect(gws.calls.filter((c) => c.path === '/stop')).toEqual([{ node: '127.0.0.2', method: 'POST', path: '/stop', room: 'math101' }])
    expect((await call('POST', '/start?room=math101')).body).toMatchObject({ code: 'room_stopped' })
    expect((await call('POST', '/stop?room=math101')).status).toBe(409)
    expect(await call('GET', '/progress?room=math101')).toEqual({
      status: 200,
      body: { success: true, room: 'math101', gateway: '127.0.0.2', state: 'stopped', recording_duration: '', transcript_progress: '' },
    })
    // A stopped room still holds its gateway.
    expect((await call('POST', '/start?room=physics')).body.gateway).toBe('127.0.0.3')
    expect((await call('POST', '/start?room=biology')).status).toBe(503)
  })

  it('answers 404 for an unknown room and 400 for a bad room id, writing nothing', async () => {
    expect((await call('GET', '/progress?room=nope')).body).toMatchObject({ code: 'room_not_found' })
    expect((await call('POST', '/stop?room=nope')).status).toBe(404)
    for (const q of ['', '?room=', '?room=a%7Cb', `?room=${'x'.repeat(129)}`, '?room=a%20b', '?room=%C3%A9', '?room=..', '?room=.']) {
      expect((await call('POST', `/start${q}`)).status, q).toBe(400)
    }
    const r = redis.client()
    expect(await r.keys('room:*')).toEqual([])
    r.disconnect()
  })

  it('never marks a room stopped that its gateway did not stop, so the monitor cannot free it', async () => {
    await call('POST', '/start?room=math101')
    await gws.stop('127.0.0.2') // unreachable: the stop call fails, and polls fail
    expect((await call('POST', '/stop?room=math101')).body).toMatchObject({ code: 'node_call_failed' })
    for (let i = 0; i < 3; i++) await gate.server.rooms.monitor!.tick()
    expect((await call('GET', '/progress?room=math101')).body.state).toBe('started')
    expect((await call('POST', '/start?room=physics')).body.gateway).toBe('127.0.0.3')
  })

  it('makes a start that arrives while another is calling the gateway wait for its outcome, on any instance', async () => {
    const other = await startGate(settings({ monitorIntervalMs: 60_000 }), { REDIS_URL: redis.url })
    gws.set('127.0.0.2', { failCalls: true, delayMs: 300 })
    const first = call('POST', '/start?room=race')
    await sleep(100)
    const pending = request(`${other.url}/start?room=race`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })
    await sleep(50)
    gws.set('127.0.0.2', { failCalls: false, delayMs: 0 }) // the second start's own call succeeds
    expect(await first).toMatchObject({ status: 502, body: { code: 'node_call_failed' } })
    const res = await pending
    const second = (await res.body.json()) as Record<string, unknown>
    expect(res.statusCode).toBe(200)
    // It did not answer from the mapping the first start was about to undo: what it says is what Redis holds.
    expect(await call('GET', '/progress?room=race')).toMatchObject({ status: 200, body: { gateway: second.gateway, state: 'started' } })
    expect(gws.calls.filter((c) => c.path === '/start' && c.room === 'race')).toHaveLength(2)
  })

  it('undoes a start the gateway refused, and a stop it refused', async () => {
    gws.set('127.0.0.2', { failCalls: true })
    expect(await call('POST', '/start?room=math101')).toMatchObject({ status: 502, body: { code: 'node_call_failed' } })
    const r = redis.client()
    expect(await r.get('room:math101')).toBeNull()
    gws.set('127.0.0.2', { failCalls: false })
    expect((await call('POST', '/start?room=math101')).body.gateway).toBe('127.0.0.2')
    gws.set('127.0.0.2', { failCalls: true })
    expect((await call('POST', '/stop?room=math101')).status).toBe(502)
    expect(await r.get('room:math101')).toBe('127.0.0.2|started||')
    r.disconnect()
  })

  it('lists every mapping with its state and progress', async () => {
    await call('POST', '/start?room=math101')
    await call('POST', '/start?room=physics')
    await call('POST', '/stop?room=physics')
    expect((await call('GET', '/status')).body.rooms).toEqual([
      { room: 'math101', gateway: '127.0.0.2', state: 'started', recording_duration: '', transcript_progress: '' },
      { room: 'physics', gateway: '127.0.0.3', state: 'stopped', recording_duration: '', transcript_progress: '' },
    ])
  })
})

describe("seed 000's rooms in seed 003's listing", () => {
  // Regression: /rooms showed each gateway's address, state, duration and progress to anyone.
  it('lists the legacy pool only to a caller with a valid bearer token', async () => {
    await call('POST', '/start?room=math101')
    const list = async (headers: Record<string, string> = {}) => {
      const res = await request(`${gate.url}/rooms`, { headers })
      return { status: res.statusCode, body: (await res.body.json()) as { rooms?: Array<{ pool: string; room: string }> } }
    }
    expect(await list()).toEqual({ status: 200, body: { rooms: [] } })
    const shown = await list({ authorization: `Bearer ${TOKEN}` })
    expect(shown.body.rooms).toEqual([expect.objectContaining({ pool: 'gateways', room: 'math101', node: '127.0.0.2', recording_duration: '' })])
    expect((await list({ authorization: 'Bearer wrong' })).status).toBe(401)
    const one = async (path: string, headers: Record<string, string> = {}) => (await request(`${gate.url}${path}`, { headers })).statusCode
    expect(await one('/rooms/math101')).toBe(404)
    expect(await one('/rooms/math101?pool=gateways')).toBe(401)
    expect(await one('/rooms/math101', { authorization: `Bearer ${TOKEN}` })).toBe(200)
  })
})

describe('mappings written outside roomgate', () => {
  it('adopts them when a leader takes over: they hold their gateway, are listed and monitored', async () => {
    const r = redis.client()
    await gate.close()
    // Written by seed 000's own service, or by hand: no index entry.
    await r.set('room:math101', '127.0.0.2|started|00:02:43|80%')
    gate = await startGate(settings({ monitorIntervalMs: 60_000 }), { REDIS_URL: redis.url })
    await gate.server.rooms.monitor!.tick()
    expect(gate.logs.some((l) => l.includes('adopted mappings written outside roomgate'))).toBe(true)
    expect(gws.polls('127.0.0.2')).toBeGreaterThan(0)
    expect((await call('POST', '/start?room=physics')).body.gateway).toBe('127.0.0.3')
    expect((await call('GET', '/status')).body.rooms).toEqual([
      { room: 'math101', gateway: '127.0.0.2', state: 'started', recording_duration: '', transcript_progress: '' },
      { room: 'physics', gateway: '127.0.0.3', state: 'started', recording_duration: '', transcript_progress: '' },
    ])
    r.disconnect()
  })
})

describe('monitor', () => {
  it('writes progress from the gateways, and only the monitor does', async () => {
    await call('POST', '/start?room=math101')
    gws.set('127.0.0.2', { duration: '00:02:43', progress: '80%' })
    // Reading progress does not poll the gateway: it is whatever the monitor last wrote.
    expect((await call('GET', '/progress?room=math101')).body.recording_duration).toBe('')
    await gate.server.rooms.monitor!.tick()
    const r = redis.client()
    expect(await r.get('room:math101')).toBe('127.0.0.2|started|00:02:43|80%')
    await call('POST', '/stop?room=math101')
    expect(await r.get('room:math101')).toBe('127.0.0.2|stopped|00:02:43|80%')
    r.disconnect()
  })

  it('deletes a stopped room whose gateway is down, freeing the gateway; keeps a started one', async () => {
    await call('POST', '/start?room=math101')
    await call('POST', '/start?room=physics')
    await call('POST', '/stop?room=math101')
    gws.set('127.0.0.2', { gwState: 'down' })
    gws.set('127.0.0.3', { gwState: 'down' })
    await gate.server.rooms.monitor!.tick()
    expect((await call('GET', '/progress?room=math101')).status).toBe(404)
    expect((await call('GET', '/progress?room=physics')).body.state).toBe('started')
    expect((await call('POST', '/start?room=chemistry')).body.gateway).toBe('127.0.0.2')
  })

  it('counts an unreachable gateway as down for its stopped room after downAfterPolls polls', async () => {
    await call('POST', '/start?room=math101')
    await call('POST', '/start?room=physics')
    await call('POST', '/stop?room=physics')
    await gws.stop('127.0.0.2')
    await gws.stop('127.0.0.3')
    await gate.server.rooms.monitor!.tick()
    expect((await call('GET', '/progress?room=physics')).status).toBe(200)
    await gate.server.rooms.monitor!.tick()
    expect((await call('GET', '/progress?room=physics')).status).toBe(404)
    expect((await call('GET', '/progress?room=math101')).body.state).toBe('started')
  })

  it('runs on one instance of the cluster at a time, and moves when the leader leaves', async () => {
    await call('POST', '/start?room=math101')
    await gate.close() // hands its lease back
    const a = await startGate(settings(), { REDIS_URL: redis.url })
    const b = await startGate(settings(), { REDIS_URL: redis.url })
    const from = gws.polls()
    await sleep(1_000)
    // 100 ms interval over 1 s: about 10 polls from the leader, not 20 from two.
    const polls = gws.polls() - from
    expect(polls).toBeGreaterThanOrEqual(5)
    expect(polls).toBeLessThanOrEqual(13)
    const leads = (g: TestGate) => g.logs.some((l) => l.includes('rooms-monitor:gateways') && l.includes('"leading background loop"'))
    expect([leads(a), leads(b)].filter(Boolean)).toHaveLength(1)
    const [leader, follower] = leads(a) ? [a, b] : [b, a]
    await leader.close()
    const before = gws.polls()
    await waitFor(() => gws.polls() > before + 3, 5_000, 'the other instance to poll')
    expect(leads(follower)).toBe(true)
    await follower.close()
  })
})

describe('memory engine', () => {
  it('runs the same API without Redis', async () => {
    const g = await startGate(settings())
    const res = await request(`${g.url}/start?room=math101`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })
    expect(await res.body.json()).toEqual({ success: true, room: 'math101', gateway: '127.0.0.2', state: 'started' })
  })
})
