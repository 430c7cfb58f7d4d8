/**
 * History and recovery (`recover`) with real clients, on the memory engine
 * (one instance) and on Redis (a device leaves instance A and comes back on B).
 */
import { describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startGate, type TestGate } from '../helpers/gate.js'
import { redisSuite } from '../helpers/redis-suite.js'
import { TestClient, type Frame } from '../helpers/ws-client.js'
import { sleep, waitFor } from '../helpers/ports.js'

const { redis, clients } = redisSuite()
const TOKEN = 't'

type Engine = 'memory' | 'redis'

function gate(engine: Engine, settings: Record<string, unknown> = {}): Promise<TestGate> {
  const base = { auth: { internalToken: TOKEN }, rateLimit: { rps: 10_000, burst: 10_000 }, ...settings }
  return startGate(base, engine === 'redis' ? { REDIS_URL: redis.url } : {})
}

async function connect(g: TestGate, device?: string): Promise<TestClient> {
  const c = await TestClient.connect(`${g.wsUrl}/ws${device ? `?device_id=${device}` : ''}`)
  clients.push(c)
  return c
}

async function broadcast(g: TestGate, event: string, targets: Record<string, unknown>, data: unknown = {}): Promise<void> {
  const res = await request(`${g.url}/internal/broadcast`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-internal-token': TOKEN },
    body: JSON.stringify({ event, data, targets }),
  })
  expect(res.statusCode).toBe(200)
  await res.body.dump()
}

type Positions = Record<string, { epoch: string; offset: number }>

/** The connection's current positions (recover without `since`). */
async function positions(c: TestClient): Promise<Positions> {
  const r = await c.request('recover', {})
  expect(r.type).toBe('response')
  return r.data.streams as Positions
}

/** Sends recover and collects the events received before its response. */
async function recover(c: TestClient, since: Positions): Promise<{ replayed: Frame[]; response: Frame }> {
  const id = `rec-${Math.random()}`
  c.send({ event: 'recover', request_id: id, data: { since } })
  const response = await c.next((m) => m.request_id === id)
  const replayed = c.messages.splice(0).filter((m) => m.type === 'event')
  return { replayed, response }
}

const brief = (m: Frame) => `${m.stream}#${m.offset}:${m.event}`

describe.each<Engine>(['memory', 'redis'])('recovery on the %s engine', (engine) => {
  it('replays what a device missed on its device stream, a room and all, once and in order, then goes on live', async () => {
    const a = await gate(engine)
    const b = engine === 'redis' ? await gate(engine) : a
    const first = await connect(a, 'phone-1')
    await first.request('room.join', { room: 'math101' })
    await broadcast(a, 'hello', { device_ids: ['phone-1'] })
    expect(await first.next()).toEqual({ type: 'event', event: 'hello', data: {}, stream: 'device:phone-1', offset: 1 })
    const known = await positions(first)
    expect(Object.keys(known).sort()).toEqual(['all', 'device:phone-1', 'room:math101'])
    expect(known['device:phone-1']!.offset).toBe(1)
    first.close()
    await first.closed

    // Missed while away, sent through the other instance.
    await broadcast(b, 'd1', { device_ids: ['phone-1'] })
    await broadcast(b, 'r1', { rooms: ['math101'] })
    await broadcast(b, 'all1', { all: true })
    await broadcast(b, 'd2', { device_ids: ['phone-1'] })
    await broadcast(b, 'r2', { rooms: ['math101'] })

    const back = await connect(b, 'phone-1')
    await back.request('room.join', { room: 'math101' })
    const { replayed, response } = await recover(back, known)
    // Per stream: every missed event once, in offset order.
    const byStream = (s: string) => replayed.filter((m) => m.stream === s).map((m) => `${m.offset}:${m.event}`)
    expect(byStream('device:phone-1')).toEqual(['2:d1', '3:d2'])
    expect(byStream('room:math101')).toEqual([`${known['room:math101']!.offset + 1}:r1`, `${known['room:math101']!.offset + 2}:r2`])
    expect(byStream('all')).toEqual([`${known.all!.offset + 1}:all1`])
    expect(replayed).toHaveLength(5)
    expect(response).toMatchObject({
      type: 'response',
      event: 'recover',
      data: {
        streams: {
          'device:phone-1': { recovered: true, epoch: known['device:phone-1']!.epoch, offset: 3 },
          'room:math101': { recovered: true, offset: known['room:math101']!.offset + 2 },
          all: { recovered: true, offset: known.all!.offset + 1 },
        },
      },
    })

    // Live again, with the next offsets.
    await broadcast(a, 'd3', { device_ids: ['phone-1'] })
    expect(await back.next()).toMatchObject({ event: 'd3', stream: 'device:phone-1', offset: 4 })
    const metrics = await (await request(`${b.url}/metrics`)).body.text()
    expect(metrics).toContain('roomgate_ws_recoveries_total{outcome="recovered"} 3')
    expect(metrics).toContain('roomgate_ws_replayed_total 5')
  })

  it('answers recovered:false, replaying nothing, for a wrong epoch or a trimmed history', async () => {
    const g = await gate(engine, { realtime: { history: { size: 3 } } })
    const c = await connect(g, 'd')
    const start = await positions(c)
    for (let i = 0; i < 5; i++) await broadcast(g, `e${i}`, { device_ids: ['d'] })
    for (let i = 0; i < 5; i++) await c.next()

    const wrong = await recover(c, { 'device:d': { epoch: 'not-the-epoch', offset: 0 } })
    expect(wrong.replayed).toEqual([])
    expect(wrong.response.data.streams['device:d']).toEqual({ recovered: false, epoch: start['device:d']!.epoch, offset: 5 })

    const trimmed = await recover(c, { 'device:d': { epoch: start['device:d']!.epoch, offset: 1 } })
    expect(trimmed.replayed).toEqual([])
    expect(trimmed.response.data.streams['device:d']).toMatchObject({ recovered: false, offset: 5 })

    // Within what is kept: the last three. None of them is sent again to a connection that had them live.
    const kept = await recover(c, { 'device:d': { epoch: start['device:d']!.epoch, offset: 2 } })
    expect(kept.replayed).toEqual([])
    expect(kept.response.data.streams['device:d']).toMatchObject({ recovered: true, offset: 5 })
    const other = await connect(g, 'd')
    const fresh = await recover(other, { 'device:d': { epoch: start['device:d']!.epoch, offset: 2 } })
    expect(fresh.replayed.map(brief)).toEqual(['device:d#3:e2', 'device:d#4:e3', 'device:d#5:e4'])
  })

  it('refuses to recover a room the connection has not joined, or another device', async () => {
    const g = await gate(engine)
    const c = await connect(g, 'd')
    const room = await c.request('recover', { since: { 'room:secret': { epoch: 'x', offset: 0 } } })
    expect(room).toMatchObject({ type: 'error', event: 'recover', error: { code: 'forbidden' } })
    const other = await c.request('recover', { since: { 'device:someone-else': { epoch: 'x', offset: 0 } } })
    expect(other).toMatchObject({ type: 'error', error: { code: 'forbidden' } })
    const anonymous = await connect(g)
    expect(await anonymous.request('recover', {})).toMatchObject({ type: 'error', error: { code: 'unidentified' } })
  })

  it('gives every event of a stream exactly once while broadcasts race the recover', async () => {
    const g = await gate(engine)
    const c = await connect(g, 'racer')
    const start = await positions(c)
    c.close()
    await c.closed
    for (let i = 1; i <= 10; i++) await broadcast(g, `missed${i}`, { device_ids: ['racer'] })
    const back = await connect(g, 'racer')
    const racing = Array.from({ length: 10 }, (_, i) => broadcast(g, `live${i + 1}`, { device_ids: ['racer'] }))
    const { replayed, response } = await recover(back, { 'device:racer': start['device:racer']! })
    await Promise.all(racing)
    expect(response.data.streams['device:racer'].recovered).toBe(true)
    const seen = [...replayed]
    while (seen.length < 20) seen.push(await back.next((m) => m.type === 'event'))
    const offsets = seen.map((m) => m.offset as number)
    expect([...offsets].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    // After the response, only live events the replay did not cover, in offset order.
    const top = response.data.streams['device:racer'].offset as number
    const after = seen.slice(replayed.length).map((m) => m.offset as number)
    expect(after.every((o) => o > top)).toBe(true)
    expect(after).toEqual([...after].sort((x, y) => x - y))
    await sleep(100)
    expect(back.messages.filter((m) => m.type === 'event')).toEqual([])
  })

  it('answers positions only, with nothing replayed, when since is empty', async () => {
    const g = await gate(engine)
    const c = await connect(g, 'p')
    await broadcast(g, 'x', { device_ids: ['p'] })
    await c.next()
    const r = await c.request('recover', { since: {} })
    expect(r.data.streams['device:p']).toEqual({ epoch: expect.any(String), offset: 1 })
    expect(r.data.streams.all).toEqual({ epoch: expect.any(String), offset: expect.any(Number) })
  })
})

describe('recovery across instances', () => {
  it('never gives one offset twice, nor skips one, when two instances broadcast to one device at once', async () => {
    const [a, b] = await Promise.all([gate('redis'), gate('redis')])
    const c = await connect(b, 'target')
    await Promise.all(Array.from({ length: 20 }, (_, i) => broadcast(i % 2 ? a : b, `n${i}`, { device_ids: ['target'] })))
    const got: number[] = []
    for (let i = 0; i < 20; i++) got.push((await c.next()).offset as number)
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
  })

  it('fills in the events an instance missed while its subscription was down, once and in order, for the devices it holds', async () => {
    const [a, b] = await Promise.all([gate('redis'), gate('redis')])
    const c = await connect(b, 'tunnel')
    await broadcast(a, 'e1', { device_ids: ['tunnel'] })
    expect(await c.next()).toMatchObject({ event: 'e1', offset: 1 })
    // Cut B's subscriber connection and broadcast while it reconnects, until one broadcast misses B.
    const admin = redis.client()
    let missed = 1
    let reached = 2
    for (let attempt = 0; attempt < 5 && reached > 1; attempt++) {
      const list = (await admin.client('LIST')) as string
      const line = list.split('\n').find((l) => l.includes(`name=roomgate:${b.engine.instanceId}:sub`))
      await admin.client('KILL', 'ID', /id=(\d+)/.exec(line!)![1]!)
      missed++
      const res = await request(`${a.url}/internal/broadcast`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-internal-token': TOKEN },
        body: JSON.stringify({ event: `e${missed}`, data: {}, targets: { device_ids: ['tunnel'] } }),
      })
      const answer = (await res.body.json()) as { instances: number }
      await waitFor(async () => ((await admin.pubsub('NUMSUB', 'rg:bcast')) as [string, number])[1] === 2)
      reached = answer.instances
      if (reached === 1) break
      expect(await c.next()).toMatchObject({ event: `e${missed}`, offset: missed }) // B was back in time: try again
    }
    admin.disconnect()
    expect(reached).toBe(1) // B missed e<missed>
    // B reads what its streams missed once its subscription is back, with no later event to show the gap.
    expect(await c.next()).toMatchObject({ event: `e${missed}`, offset: missed })
    await broadcast(a, 'after', { device_ids: ['tunnel'] })
    expect(await c.next()).toMatchObject({ event: 'after', offset: missed + 1 })
    await sleep(100)
    expect(c.messages).toEqual([])
  })

  it('starts a new epoch when a memory-engine instance restarts', async () => {
    const first = await gate('memory')
    const c = await connect(first, 'm')
    await broadcast(first, 'x', { device_ids: ['m'] })
    await c.next()
    const known = await positions(c)
    await first.close()
    const second = await gate('memory')
    const back = await connect(second, 'm')
    const { replayed, response } = await recover(back, known)
    expect(replayed).toEqual([])
    expect(response.data.streams['device:m'].recovered).toBe(false)
    expect(response.data.streams['device:m'].epoch).not.toBe(known['device:m']!.epoch)
  })

  it('drops the stream fields and refuses recover when history is off', async () => {
    const g = await gate('memory', { realtime: { history: { size: 0 } } })
    const c = await connect(g, 'h')
    await broadcast(g, 'plain', { device_ids: ['h'] })
    expect(await c.next()).toEqual({ type: 'event', event: 'plain', data: {} })
    expect(await c.request('recover', {})).toMatchObject({ type: 'error', error: { code: 'not_configured' } })
  })
})
