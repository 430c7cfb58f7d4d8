/** POST /internal/broadcast on one instance (memory engine). */
import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { closeGates, startGate, type TestGate } from '../helpers/gate.js'
import { sleep } from '../helpers/ports.js'
import { TestClient } from '../helpers/ws-client.js'

const TOKEN = 'internal-secret-token'
const clients: TestClient[] = []

afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  await closeGates()
})

async function connect(gate: TestGate, query: string): Promise<TestClient> {
  const c = await TestClient.connect(`${gate.wsUrl}/ws${query}`)
  clients.push(c)
  return c
}

/** `token: null` sends no X-Internal-Token header at all. */
function broadcast(gate: TestGate, body: unknown, token: string | null = TOKEN) {
  return request(`${gate.url}/internal/broadcast`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === null ? {} : { 'x-internal-token': token }) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

describe('internal broadcast', () => {
  it('reaches the targeted devices, every connection of each, and says how many', async () => {
    const gate = await startGate({ auth: { internalToken: TOKEN } })
    const d1a = await connect(gate, '?device_id=device1')
    const d1b = await connect(gate, '?device_id=device1')
    const d2 = await connect(gate, '?device_id=device2')
    const d3 = await connect(gate, '?device_id=device3')
    const res = await broadcast(gate, {
      event: 'lobby.updated',
      data: { type: 'participant_joined', device_id: 'device9' },
      targets: { device_ids: ['device1', 'device2', 'device2', 'nobody'] },
    })
    expect(res.statusCode).toBe(200)
    expect(await res.body.json()).toEqual({ success: true, delivered: 3, instances: 1, unconfirmed: 0 })
    const data = { type: 'participant_joined', device_id: 'device9' }
    // Seed 001's envelope, plus the stream and its offset (history is on by default).
    for (const c of [d1a, d1b]) expect(await c.next()).toEqual({ type: 'event', event: 'lobby.updated', data, stream: 'device:device1', offset: 1 })
    expect(await d2.next()).toEqual({ type: 'event', event: 'lobby.updated', data, stream: 'device:device2', offset: 1 })
    await sleep(100)
    expect(d3.messages).toEqual([])
    expect(d2.messages).toEqual([]) // listed twice, delivered once
  })

  it('frames a broadcast once for every client, at every frame length, in order with their other messages', async () => {
    const gate = await startGate({ auth: { internalToken: TOKEN }, maxMessageBytes: 1_000_000 })
    const a = await connect(gate, '?device_id=a')
    const b = await connect(gate, '?device_id=b')
    // 7-bit, 16-bit and 64-bit payload lengths, and the edges between them.
    const sizes = [1, 100, 125, 126, 65_535, 65_536, 300_000]
    for (const size of sizes) {
      const res = await broadcast(gate, { event: 'blob', data: { s: 'x'.repeat(size) }, targets: { all: true } })
      expect(res.statusCode).toBe(200)
      await res.body.dump()
    }
    // A response from roomgate itself, between broadcasts, keeps its place.
    const answer = a.request('identify', { device_id: 'a' })
    for (const c of [a, b]) {
      for (const size of sizes) expect((await c.next((m) => m.event === 'blob')).data.s.length).toBe(size)
    }
    expect((await answer).type).toBe('response')
  })

  it('sends all: true to identified devices only', async () => {
    const gate = await startGate({ auth: { internalToken: TOKEN } })
    const a = await connect(gate, '?device_id=a')
    const anonymous = await connect(gate, '')
    const res = await broadcast(gate, { event: 'maintenance', data: { in: 5 }, targets: { all: true } })
    expect(await res.body.json()).toMatchObject({ delivered: 1 })
    expect(await a.next()).toEqual({ type: 'event', event: 'maintenance', data: { in: 5 }, stream: 'all', offset: 1 })
    await sleep(100)
    // A connection that never identified gets seed 002's metrics feed, and no broadcast.
    expect(anonymous.messages.map((m) => m.type)).toEqual(['metrics'])
  })

  it('delivers a broadcast once per idempotency_key, so a retry is safe', async () => {
    const gate = await startGate({ auth: { internalToken: TOKEN } })
    const a = await connect(gate, '?device_id=a')
    const body = { event: 'once', data: {}, targets: { all: true }, idempotency_key: 'evt-42' }
    expect(await (await broadcast(gate, body)).body.json()).toMatchObject({ delivered: 1 })
    expect(await (await broadcast(gate, body)).body.json()).toMatchObject({ delivered: 0 })
    expect(await (await broadcast(gate, { ...body, idempotency_key: 'evt-43' })).body.json()).toMatchObject({ delivered: 1 })
    await a.next()
    await a.next()
    await sleep(100)
    expect(a.messages).toEqual([])
  })

  it('answers 400, not 500, for data nested too deeply', async () => {
    const gate = await startGate({ auth: { internalToken: TOKEN } })
    const deep = `{"event":"x","targets":{"all":true},"data":${'['.repeat(10_000)}${']'.repeat(10_000)}}`
    const res = await broadcast(gate, deep)
    expect(res.statusCode).toBe(400)
    expect(await res.body.json()).toEqual({ success: false, error: "'data' is nested too deeply", code: 'bad_request' })
  })

  it('refuses every call when no token is configured', async () => {
    const gate = await startGate()
    const res = await broadcast(gate, { event: 'x', targets: { all: true } }, '')
    expect(res.statusCode).toBe(403)
    expect(await res.body.json()).toMatchObject({ success: false, code: 'forbidden' })
    const res2 = await broadcast(gate, { event: 'x', targets: { all: true } }, 'anything')
    expect(res2.statusCode).toBe(403)
    await res2.body.dump()
  })

  it('refuses a missing or wrong token', async () => {
    const gate = await startGate({ auth: { internalToken: TOKEN } })
    for (const token of [null, '', 'wrong', `${TOKEN}x`, TOKEN.slice(0, -1)]) {
      const res = await broadcast(gate, { event: 'x', targets: { all: true } }, token)
      expect(res.statusCode, String(token)).toBe(401)
      expect(await res.body.json()).toEqual({ success: false, error: 'Missing or invalid X-Internal-Token', code: 'unauthorized' })
    }
  })

  it('answers 400 with a reason for a bad body, and delivers nothing', async () => {
    const gate = await startGate({ auth: { internalToken: TOKEN } })
    const a = await connect(gate, '?device_id=a')
    const bad: unknown[] = [
      '{not json',
      {},
      { event: '', targets: { all: true } },
      { event: 'x' },
      { event: 'x', targets: {} },
      { event: 'x', targets: { device_ids: [] } },
      { event: 'x', targets: { device_ids: 'a' } },
      { event: 'x', targets: { device_ids: [1] } },
      { event: 'x', targets: { all: 'yes' } },
      { event: 'x', targets: { devices: ['a'] } },
      { event: 'x', targets: { all: true }, extra: 1 },
      [],
    ]
    for (const body of bad) {
      const res = await broadcast(gate, body)
      expect(res.statusCode, JSON.stringify(body)).toBe(400)
      const json = (await res.body.json()) as { success: boolean; code: string; error: string }
      expect(json.success).toBe(false)
      expect(json.code).toBe('bad_request')
      expect(json.error.length).toBeGreaterThan(0)
    }
    await sleep(50)
    expect(a.messages).toEqual([])
  })
})
