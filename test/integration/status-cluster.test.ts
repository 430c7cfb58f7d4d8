/**
 * The status proxy on two instances sharing Redis: one poller for the whole
 * cluster while anyone watches (the client API counts the requests), changes
 * reaching subscribers on both instances, the poller moving when its
 * instance's last subscriber leaves, and a refresh on one instance reaching
 * the other's subscribers.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startClientApi, type FakeClientApi } from '../helpers/client-api.js'
import { startGate } from '../helpers/gate.js'
import { sleep } from '../helpers/ports.js'
import { redisSuite } from '../helpers/redis-suite.js'
import { SseClient } from '../helpers/sse-client.js'

const { redis } = redisSuite()
const apis: FakeClientApi[] = []
const sse: SseClient[] = []
afterEach(async () => {
  for (const c of sse.splice(0)) c.close()
  for (const a of apis.splice(0)) await a.close()
})

async function cluster() {
  const api = await startClientApi()
  apis.push(api)
  api.units = [{ ref: 'A', status: 'open' }, { ref: 'B', status: 'open' }]
  const settings = {
    redisUrl: redis.url,
    rateLimit: { rps: 1000, burst: 1000 },
    status: {
      sources: [
        {
          slug: 'tower',
          url: `${api.url}/units`,
          auth: { type: 'api_key', header: 'X-Client-Key', keyEnv: 'TOWER_KEY' },
          mapping: { sold: ['sold'] },
          pollIntervalSeconds: 1,
          cacheTtlSeconds: 1,
          timeoutSeconds: 1,
          retryCount: 0,
        },
      ],
    },
  }
  api.expect = { header: 'x-client-key', value: 'k-123-secret' }
  const env = { TOWER_KEY: 'k-123-secret' }
  const [a, b] = await Promise.all([startGate(settings, env), startGate(settings, env)])
  const watch = async (g: typeof a) => {
    const c = await SseClient.connect(`${g.url}/api/public/tower/status/stream`)
    sse.push(c)
    await c.next((e) => e.event === 'status_update')
    return c
  }
  return { api, a, b, watch }
}

describe('status proxy on two instances', () => {
  it('polls the client API from one instance only, and streams changes to subscribers on both', async () => {
    const { api, a, b, watch } = await cluster()
    const onA = await watch(a)
    const onB = await watch(b)
    const before = api.requests
    await sleep(4_000)
    // One poller at 1 s: about 4 requests in 4 s, not 8.
    expect(api.requests - before).toBeGreaterThanOrEqual(2)
    expect(api.requests - before).toBeLessThanOrEqual(5)

    api.units[1]!.status = 'sold'
    const [ea, eb] = await Promise.all([onA, onB].map((c) => c.next((e) => e.event === 'bulk_update', 4_000)))
    expect(ea!.data).toEqual({ updates: { B: 'sold' } })
    expect(eb!.data).toEqual({ updates: { B: 'sold' } })
    expect(ea!.id).toBe(eb!.id)
  })

  it('moves the poller when its instance loses its last subscriber, and stops when nobody watches', async () => {
    const { api, a, b, watch } = await cluster()
    const onA = await watch(a)
    await sleep(300)
    const onB = await watch(b)
    // Whichever leads, close its subscriber: the other instance must take over.
    const leaderIsA = a.logs.some((l) => l.includes('leading background loop') && l.includes('status:tower'))
    ;(leaderIsA ? onA : onB).close()
    const survivor = leaderIsA ? onB : onA
    await sleep(1_500)
    api.units[0]!.status = 'sold'
    expect((await survivor.next((e) => e.event === 'bulk_update', 5_000)).data).toEqual({ updates: { A: 'sold' } })

    survivor.close()
    await sleep(1_200)
    const idle = api.requests
    await sleep(2_000)
    expect(api.requests).toBe(idle)
  })

  it('hands polling over at once when the leader loses its last subscriber in the middle of a read', async () => {
    const { api, a, b, watch } = await cluster()
    const onA = await watch(a)
    await sleep(300)
    const onB = await watch(b)
    const leaderIsA = a.logs.some((l) => l.includes('leading background loop') && l.includes('status:tower'))
    const survivor = leaderIsA ? onB : onA
    api.delayMs = 800
    api.units[0]!.status = 'sold'
    await sleep(1_200) // the leader is in the middle of a slow read now
    ;(leaderIsA ? onA : onB).close()
    expect((await survivor.next((e) => e.event === 'bulk_update', 4_000)).data).toEqual({ updates: { A: 'sold' } })
  })

  it('drops a stream whose client left while a slow Redis held the request', async () => {
    const { api, a } = await cluster()
    redis.pause()
    const { request } = await import('node:http')
    const req = request(`${a.url}/api/public/tower/status/stream`)
    req.on('error', () => undefined)
    req.end()
    await sleep(200)
    req.destroy()
    await sleep(300)
    redis.resume()
    await sleep(1_500)
    expect(a.server.status.subscribers().tower ?? 0).toBe(0)
    const idle = api.requests
    await sleep(2_000)
    expect(api.requests).toBe(idle)
  })

  it('sends a refresh made on one instance to the subscribers of the other', async () => {
    const { api, a, b, watch } = await cluster()
    const onB = await watch(b)
    api.units = [{ ref: 'C', status: 'sold' }]
    const res = await fetch(`${a.url}/api/public/tower/status/refresh`, { method: 'POST' })
    expect(await res.json()).toMatchObject({ refreshed: true, statuses: { C: 'sold' } })
    expect((await onB.next((e) => e.event === 'status_update' && 'C' in e.data.statuses, 3_000)).data).toEqual({ statuses: { C: 'sold' } })
    const everything = a.logs.join('\n') + b.logs.join('\n')
    expect(everything).not.toContain('k-123-secret')
  })

  it('keeps versions going up when Redis lost the snapshot, so open streams do not drop the new statuses as old', async () => {
    const { api, a, b, watch } = await cluster()
    const onA = await watch(a)
    for (const status of ['sold', 'open']) {
      api.units[0]!.status = status
      await onA.next((e) => e.event === 'bulk_update', 4_000)
    }
    await redis.restart() // no persistence: rg:status:tower is gone
    api.units[0]!.status = 'sold'
    const update = await onA.next((e) => (e.event === 'status_update' && e.data.statuses?.A === 'sold') || (e.event === 'bulk_update' && e.data.updates?.A === 'sold'), 8_000)
    expect(update).toBeDefined()
    const read = async () => ((await (await fetch(`${b.url}/api/public/tower/status`)).json()) as { statuses?: Record<string, string> }).statuses
    expect(await read()).toEqual({ A: 'sold', B: 'available' })
  })
})
