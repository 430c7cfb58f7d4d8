/**
 * Several roomgate instances on one real Redis: cross-instance delivery,
 * shared rate limits, and a Redis outage in the middle of the test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startGate, type TestGate } from '../helpers/gate.js'
import { sleep, waitFor } from '../helpers/ports.js'
import { redisSuite } from '../helpers/redis-suite.js'
import { startService, startUpstream, sendJson, type TestUpstream } from '../helpers/upstream.js'
import { TestClient } from '../helpers/ws-client.js'

const TOKEN = 'cluster-token'
const { redis, clients } = redisSuite()

function gateOnRedis(settings: Record<string, unknown> = {}): Promise<TestGate> {
  return startGate({ auth: { internalToken: TOKEN }, ...settings }, { REDIS_URL: redis.url })
}

async function connect(gate: TestGate, device: string): Promise<TestClient> {
  const c = await TestClient.connect(`${gate.wsUrl}/ws?device_id=${device}`)
  clients.push(c)
  return c
}

async function broadcast(gate: TestGate, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(`${gate.url}/internal/broadcast`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-internal-token': TOKEN },
    body: JSON.stringify(body),
  })
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> }
}

describe('two instances on one Redis', () => {
  it('delivers a broadcast sent to instance A to a device on instance B', async () => {
    const a = await gateOnRedis()
    const b = await gateOnRedis()
    expect(a.engine.kind).toBe('redis')
    const onB = await connect(b, 'device-b')
    const onA = await connect(a, 'device-a')
    const res = await broadcast(a, { event: 'lobby.updated', data: { n: 1 }, targets: { device_ids: ['device-b'] } })
    expect(res).toEqual({ status: 200, json: { success: true, delivered: 1, instances: 2, unconfirmed: 0 } })
    expect(await onB.next()).toMatchObject({ type: 'event', event: 'lobby.updated', data: { n: 1 }, stream: 'device:device-b' })
    await sleep(100)
    expect(onA.messages).toEqual([])

    const all = await broadcast(b, { event: 'all.hello', targets: { all: true } })
    expect(all.json).toMatchObject({ delivered: 2, instances: 2 })
    expect((await onA.next()).event).toBe('all.hello')
    expect((await onB.next()).event).toBe('all.hello')
  })

  it('reports instances that got a broadcast but never counted it', async () => {
    const a = await gateOnRedis({ broadcast: { ackTimeoutMs: 200 } })
    const onA = await connect(a, 'device-a')
    // Anything else subscribed to the channel (an operator's redis-cli, say) counts as a receiver.
    const stranger = redis.client()
    await stranger.subscribe('rg:bcast')
    try {
      const started = Date.now()
      const res = await broadcast(a, { event: 'x', targets: { all: true } })
      expect(res.json).toEqual({ success: true, delivered: 1, instances: 1, unconfirmed: 1 })
      expect(Date.now() - started).toBeGreaterThanOrEqual(190)
      expect((await onA.next()).event).toBe('x')
    } finally {
      stranger.disconnect()
    }
  })

  it('delivers the broadcasts of an instance from before stream history, so a rolling upgrade loses none', async () => {
    const a = await gateOnRedis()
    const onA = await connect(a, 'device-a')
    const old = redis.client()
    try {
      // What an earlier roomgate publishes: a header line, then the frame.
      const header = { id: 'old-1', from: 'old-instance', targets: { device_ids: ['device-a'], all: false } }
      expect(await old.publish('rg:bc', `${JSON.stringify(header)}\n{"type":"event","event":"from.old","data":{"v":1}}`)).toBe(1)
      expect(await onA.next()).toEqual({ type: 'event', event: 'from.old', data: { v: 1 } })
    } finally {
      old.disconnect()
    }
  })

  it('shares the per-IP HTTP rate limit between instances', async () => {
    const up = await startUpstream((_req, res) => sendJson(res, 200, { ok: true }))
    try {
      const settings = { services: { measurement: { url: up.url } }, rateLimit: { rps: 0.01, burst: 4 } }
      const a = await gateOnRedis(settings)
      const b = await gateOnRedis(settings)
      const statuses = []
      for (let i = 0; i < 6; i++) {
        const res = await request(`${(i % 2 ? a : b).url}/v1/measurement/x`)
        statuses.push(res.statusCode)
        await res.body.dump()
      }
      expect(statuses).toEqual([200, 200, 200, 200, 429, 429])
    } finally {
      await up.close()
    }
  })
})

describe('Redis outage', () => {
  let lobby: TestUpstream
  let measurement: TestUpstream
  beforeAll(async () => {
    lobby = await startService()
    measurement = await startUpstream((_req, res) => sendJson(res, 200, { ok: true }))
  })
  afterAll(async () => {
    await lobby.close()
    await measurement.close()
  })

  it('fails fast while Redis is down, keeps serving what does not need it, and recovers by itself', async () => {
    const settings = { services: { lobby: { url: lobby.url }, measurement: { url: measurement.url } } }
    const a = await gateOnRedis(settings)
    const b = await gateOnRedis(settings)
    const onB = await connect(b, 'device-b')
    const onA = await connect(a, 'device-a')
    expect((await broadcast(a, { event: 'before', targets: { all: true } })).json.delivered).toBe(2)

    await redis.kill()
    await waitFor(async () => (await request(`${a.url}/readyz`)).statusCode === 503, 3_000, 'readyz to fail')

    // Needs Redis: refused at once with 503, nothing delivered anywhere.
    const started = Date.now()
    const down = await broadcast(a, { event: 'during', targets: { all: true } })
    expect(down.status).toBe(503)
    expect(down.json).toMatchObject({ success: false, code: 'engine_unavailable' })
    expect(Date.now() - started).toBeLessThan(1_000)

    // Does not need Redis: events still route, the proxy still answers (rate limit fails open).
    expect((await onA.request('lobby.create')).type).toBe('response')
    const proxied = await request(`${b.url}/v1/measurement/x`)
    expect(proxied.statusCode).toBe(200)
    await proxied.body.dump()
    const health = await (await request(`${a.url}/healthz`)).body.json()
    expect(health).toMatchObject({ status: 'ok', engine: 'redis', engineState: 'unavailable' })

    await redis.start()
    for (const g of [a, b]) {
      await waitFor(async () => (await request(`${g.url}/readyz`)).statusCode === 200, 10_000, 'readyz to recover')
    }
    // The subscriber re-subscribed: delivery across instances works again.
    const after = await waitFor(async () => {
      const r = await broadcast(a, { event: 'after', targets: { all: true } })
      return r.json.delivered === 2 ? r : undefined
    }, 10_000, 'cross-instance delivery to recover')
    expect(after.json).toMatchObject({ instances: 2 })
    expect((await onB.next((m) => m.event === 'after')).type).toBe('event')
    expect((await onA.next((m) => m.event === 'after')).type).toBe('event')
    expect(onA.messages.filter((m) => m.event === 'during')).toEqual([])
    expect(onB.messages.filter((m) => m.event === 'during')).toEqual([])
  })

  it('notices a Redis that stops answering without closing the socket, and recovers when it resumes', async () => {
    const a = await gateOnRedis()
    const onA = await connect(a, 'device-a')
    redis.pause()
    try {
      await waitFor(async () => (await request(`${a.url}/readyz`)).statusCode === 503, 4_000, 'readyz to fail')
      const started = Date.now()
      expect((await broadcast(a, { event: 'frozen', targets: { all: true } })).status).toBe(503)
      expect(Date.now() - started).toBeLessThan(1_500)
    } finally {
      redis.resume()
    }
    await waitFor(async () => (await request(`${a.url}/readyz`)).statusCode === 200, 10_000, 'readyz to recover')
    expect((await broadcast(a, { event: 'thawed', targets: { all: true } })).json).toMatchObject({ delivered: 1 })
    expect((await onA.next((m) => m.event === 'thawed')).type).toBe('event')
  })

  it('shuts down in bounded time while Redis is frozen', async () => {
    const a = await gateOnRedis({ shutdown: { drainTimeoutMs: 500 } })
    redis.pause()
    try {
      const started = Date.now()
      await a.close()
      expect(Date.now() - started).toBeLessThan(3_500)
    } finally {
      redis.resume()
    }
  })
})
