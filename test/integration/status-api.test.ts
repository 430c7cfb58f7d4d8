/**
 * Seed 004's status proxy on one instance (memory engine) against a fake
 * client API: the three routes, mapping, cache and stale answers, the SSE
 * stream (events, ids, pings, headers), polling that runs only while someone
 * watches, refresh limits, slow readers, and credentials kept out of sight.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startClientApi, type FakeClientApi } from '../helpers/client-api.js'
import { closeGates, startGate, type TestGate } from '../helpers/gate.js'
import { sleep, waitFor } from '../helpers/ports.js'
import { SseClient } from '../helpers/sse-client.js'

const TOKEN = 'tok-9f3c-SECRET-bearer'
const apis: FakeClientApi[] = []
const sse: SseClient[] = []
afterEach(async () => {
  for (const c of sse.splice(0)) c.close()
  await closeGates()
  for (const a of apis.splice(0)) await a.close()
})

async function setup(source: Record<string, unknown> = {}, status: Record<string, unknown> = {}) {
  const api = await startClientApi()
  apis.push(api)
  api.expect = { header: 'authorization', value: `Bearer ${TOKEN}` }
  api.units = [
    { ref: 'A-101', status: 'Open' },
    { id: 'A-102', status: 'HOLD' },
    { unit_id: 7, status: 'taken' },
    { ref: 'A-104', status: 'weird' },
  ]
  const g = await startGate(
    {
      rateLimit: { rps: 1000, burst: 1000 },
      status: {
        keepaliveSeconds: 30,
        ...status,
        sources: [
          {
            slug: 'demo',
            url: `${api.url}/units`,
            auth: { type: 'bearer', tokenEnv: 'DEMO_TOKEN' },
            mapping: { available: ['open', 'free'], reserved: ['hold'], sold: ['sold', 'taken'] },
            pollIntervalSeconds: 1,
            cacheTtlSeconds: 30,
            timeoutSeconds: 1,
            retryCount: 0,
            ...source,
          },
          { slug: 'off', url: `${api.url}/units`, active: false },
        ],
      },
    },
    { DEMO_TOKEN: TOKEN },
  )
  return { api, g }
}

const get = async (g: TestGate, path: string, init?: RequestInit) => {
  const res = await fetch(`${g.url}${path}`, init)
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.status, headers: res.headers, body: (await res.json()) as any }
}

const SEED_STATUSES = { 'A-101': 'available', 'A-102': 'reserved', '7': 'sold', 'A-104': 'available' }

describe('GET /api/public/{slug}/status', () => {
  it('answers the mapped statuses, reading the client API once per cache period', async () => {
    const { api, g } = await setup()
    const first = await get(g, '/api/public/demo/status')
    expect(first).toMatchObject({ status: 200, body: { project: 'demo', statuses: SEED_STATUSES, count: 4 } })
    await get(g, '/api/public/demo/status')
    await get(g, '/projects/demo/status')
    expect(api.requests).toBe(1)
  })

  it('reads wrapped answers ({units} and {data})', async () => {
    const { api, g } = await setup({ cacheTtlSeconds: 1 })
    api.shape = 'units'
    expect((await get(g, '/api/public/demo/status')).body.count).toBe(4)
    api.shape = 'data'
    api.units = [{ ref: 'Z', status: 'free' }]
    await sleep(1_100)
    expect((await get(g, '/api/public/demo/status')).body.statuses).toEqual({ Z: 'available' })
  })

  it('answers 404 for an unknown or inactive project on all three routes', async () => {
    const { g } = await setup()
    for (const slug of ['nope', 'off']) {
      expect((await get(g, `/api/public/${slug}/status`)).status).toBe(404)
      expect((await get(g, `/api/public/${slug}/status/stream`)).body).toMatchObject({ success: false, error: 'Project not found' })
      expect((await get(g, `/api/public/${slug}/status/refresh`, { method: 'POST' })).status).toBe(404)
    }
  })

  it('serves the last good statuses when the client API fails, and never shows or logs the token', async () => {
    const { api, g } = await setup({ cacheTtlSeconds: 1 })
    await get(g, '/api/public/demo/status')
    api.failWith = 500
    await sleep(1_100)
    const stale = await get(g, '/api/public/demo/status')
    expect(stale.body).toMatchObject({ statuses: SEED_STATUSES, stale: true })
    expect(g.logs.some((l) => l.includes('status source cannot be read'))).toBe(true)
    api.expect = { header: 'authorization', value: 'Bearer other' } // 401 from the client API
    api.failWith = undefined
    await get(g, '/api/public/demo/status')
    const everything = JSON.stringify(stale.body) + g.logs.join('\n')
    expect(everything).not.toContain(TOKEN)
  })

  it('answers {} for a project whose client API never answered', async () => {
    const { api, g } = await setup()
    api.failWith = 503
    expect((await get(g, '/api/public/demo/status')).body).toMatchObject({ project: 'demo', statuses: {}, count: 0, stale: true })
  })
})

describe('GET /api/public/{slug}/status/stream', () => {
  it('streams connected, the statuses, then only what changed, with ids and the seed headers', async () => {
    const { api, g } = await setup()
    const c = await SseClient.connect(`${g.url}/api/public/demo/status/stream`)
    sse.push(c)
    expect(c.res.statusCode).toBe(200)
    expect(c.res.headers['content-type']).toBe('text/event-stream')
    expect(c.res.headers['cache-control']).toBe('no-cache')
    expect(c.res.headers['x-accel-buffering']).toBe('no')
    expect(await c.next()).toEqual({ event: 'connected', id: undefined, data: { project: 'demo' } })
    const initial = await c.next()
    expect(initial).toMatchObject({ event: 'status_update', data: { statuses: SEED_STATUSES } })

    api.units[0]!.status = 'sold'
    const bulk = await c.next((e) => e.event === 'bulk_update', 4_000)
    expect(bulk.data).toEqual({ updates: { 'A-101': 'sold' } })
    expect(Number(bulk.id)).toBeGreaterThan(Number(initial.id))

    api.units.pop()
    const full = await c.next((e) => e.event === 'status_update', 4_000)
    expect(Object.keys(full.data.statuses).sort()).toEqual(['7', 'A-101', 'A-102'])
  })

  it('sends keepalive pings', async () => {
    const { g } = await setup({}, { keepaliveSeconds: 0.3 })
    const c = await SseClient.connect(`${g.url}/projects/demo/status/stream`)
    sse.push(c)
    const ping = await c.next((e) => e.event === 'ping', 2_000)
    expect(ping.data.time).toBeGreaterThan(1_700_000_000)
  })

  it('polls only while someone watches, and lets go of a subscriber at once', async () => {
    const { api, g } = await setup()
    await sleep(1_500)
    expect(api.requests).toBe(0)
    const c = await SseClient.connect(`${g.url}/api/public/demo/status/stream`)
    await c.next((e) => e.event === 'status_update')
    await sleep(2_300)
    const whileWatched = api.requests
    expect(whileWatched).toBeGreaterThanOrEqual(2)
    expect(g.server.status.subscribers()).toEqual({ demo: 1 })
    c.close()
    await waitFor(() => g.server.status.subscribers().demo === 0, 1_000)
    await sleep(1_500)
    expect(api.requests - whileWatched).toBeLessThanOrEqual(1)
  })

  it('cuts off a subscriber that stops reading, without slowing the others', async () => {
    const { api, g } = await setup({ pollIntervalSeconds: 3600 }, { refreshPerMinute: 100_000 })
    // Big answers: each status_update is about 200 KB.
    api.units = Array.from({ length: 4000 }, (_, i) => ({ ref: `unit-${'x'.repeat(30)}-${i}`, status: i % 2 ? 'open' : 'hold' }))
    const slow = await SseClient.connect(`${g.url}/api/public/demo/status/stream`)
    const fine = await SseClient.connect(`${g.url}/api/public/demo/status/stream`)
    sse.push(slow, fine)
    await slow.next((e) => e.event === 'status_update')
    await fine.next((e) => e.event === 'status_update')
    slow.res.pause()
    for (let i = 0; i < 60; i++) {
      await get(g, '/api/public/demo/status/refresh', { method: 'POST' })
      await fine.next((e) => e.event === 'status_update')
    }
    const metrics = await (await fetch(`${g.url}/metrics`)).text()
    expect(metrics).toMatch(/^roomgate_status_slow_readers_total [1-9]/m)
    expect(g.server.status.subscribers()).toEqual({ demo: 1 })
  })

  it('ends every stream on shutdown', async () => {
    const { g } = await setup()
    const c = await SseClient.connect(`${g.url}/api/public/demo/status/stream`)
    await c.next((e) => e.event === 'status_update')
    const started = Date.now()
    await g.close()
    await c.closed
    expect(Date.now() - started).toBeLessThan(2_000)
  })
})

describe('the status proxy under review findings', () => {
  it('sends a change first seen by a GET to the subscribers', async () => {
    const { api, g } = await setup({ cacheTtlSeconds: 1, pollIntervalSeconds: 30 })
    const c = await SseClient.connect(`${g.url}/api/public/demo/status/stream`)
    sse.push(c)
    await c.next((e) => e.event === 'status_update')
    api.units[0]!.status = 'sold'
    await sleep(1_100)
    expect((await get(g, '/api/public/demo/status')).body.statuses['A-101']).toBe('sold')
    expect((await c.next((e) => e.event === 'bulk_update', 2_000)).data).toEqual({ updates: { 'A-101': 'sold' } })
  })

  it('answers HEAD on the stream with its headers and no stream, and the connection goes on', async () => {
    const { g } = await setup()
    const { request } = await import('undici')
    const head = await request(`${g.url}/api/public/demo/status/stream`, { method: 'HEAD' })
    expect(head.statusCode).toBe(200)
    expect(head.headers['content-type']).toBe('text/event-stream')
    await head.body.dump()
    expect((await request(`${g.url}/api/public/demo/status`)).statusCode).toBe(200)
    expect(g.server.status.subscribers()).toEqual({})
  })

  it('does not hammer a failing client API with public traffic, and a failed refresh asks it once', async () => {
    const { api, g } = await setup({ cacheTtlSeconds: 5 })
    api.failWith = 500
    for (let i = 0; i < 20; i++) expect((await get(g, '/api/public/demo/status')).body.stale).toBe(true)
    expect(api.requests).toBe(1)
    const refresh = await get(g, '/api/public/demo/status/refresh', { method: 'POST' })
    expect(refresh.body).toMatchObject({ refreshed: false, stale: true, statuses: {} })
    expect(api.requests).toBe(2)
  })

  it('stops a poll in flight when the last subscriber leaves or the server closes', async () => {
    const { api, g } = await setup({ timeoutSeconds: 5 })
    api.delayMs = 3_000
    const c = await SseClient.connect(`${g.url}/api/public/demo/status/stream`)
    await waitFor(() => api.requests >= 1)
    const started = Date.now()
    c.close()
    await g.close()
    expect(Date.now() - started).toBeLessThan(2_000)
    const after = api.requests
    await sleep(1_500)
    expect(api.requests).toBe(after)
  })

  it('limits the streams one client may hold', async () => {
    const { g } = await setup({}, { maxSubscribersPerIp: 2 })
    const a = await SseClient.connect(`${g.url}/api/public/demo/status/stream`)
    const b = await SseClient.connect(`${g.url}/api/public/demo/status/stream`)
    sse.push(a, b)
    expect((await get(g, '/api/public/demo/status/stream')).status).toBe(429)
    a.close()
    await waitFor(() => g.server.status.subscribers().demo === 1)
    const c = await SseClient.connect(`${g.url}/api/public/demo/status/stream`)
    sse.push(c)
    expect(c.res.statusCode).toBe(200)
  })
})

describe('POST /api/public/{slug}/status/refresh', () => {
  it('reads the client API again, tells every subscriber, and is rate limited per project', async () => {
    const { api, g } = await setup({ pollIntervalSeconds: 3600 })
    const c = await SseClient.connect(`${g.url}/api/public/demo/status/stream`)
    sse.push(c)
    await c.next((e) => e.event === 'status_update')
    api.units = [{ ref: 'B', status: 'sold' }]
    const res = await get(g, '/api/public/demo/status/refresh', { method: 'POST' })
    expect(res).toMatchObject({ status: 200, body: { project: 'demo', statuses: { B: 'sold' }, refreshed: true } })
    expect((await c.next((e) => e.event === 'status_update')).data).toEqual({ statuses: { B: 'sold' } })
    const again = await get(g, '/api/public/demo/status/refresh', { method: 'POST' })
    expect(again.status).toBe(429)
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
  })
})
