/** LeaderLoop on real Redis leases: one runner at a time, even when a run outlasts the lease. */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createRedisEngine } from '../../src/engine/redis.js'
import { LeaderLoop } from '../../src/loops/leader-loop.js'
import { silentLog } from '../helpers/log.js'
import { sleep } from '../helpers/ports.js'
import { RedisServer } from '../helpers/redis-server.js'

const redis = new RedisServer()
beforeAll(async () => {
  await redis.start()
})
afterAll(async () => {
  await redis.stop()
})

it('never runs twice at once, even when a run takes longer than the lease', async () => {
  const engines = await Promise.all([1, 2].map(() => createRedisEngine({ url: redis.url, commandTimeoutMs: 1_000, connectTimeoutMs: 2_000 }, silentLog)))
  let running = 0
  let maxRunning = 0
  let runs = 0
  let leads = 0
  const loops = engines.map(
    (e) =>
      new LeaderLoop({
        name: 'slow-loop',
        // Lease: max(3 x 100 ms, 2 s) = 2 s; each run takes 2.5 s.
        intervalMs: 100,
        leases: e.leases,
        log: silentLog,
        onLead: async () => {
          leads++
        },
        run: async () => {
          running++
          runs++
          maxRunning = Math.max(maxRunning, running)
          await sleep(2_500)
          running--
        },
      }),
  )
  for (const l of loops) l.start()
  await sleep(6_000)
  await Promise.all(loops.map((l) => l.close()))
  await Promise.all(engines.map((e) => e.close()))
  expect(maxRunning).toBe(1)
  expect(runs).toBeGreaterThanOrEqual(2)
  expect(leads).toBe(1)
}, 20_000)
