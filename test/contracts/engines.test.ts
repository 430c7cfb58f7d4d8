/**
 * Runs each contract suite against the memory engine and the Redis engine, on
 * one real redis-server and on a real Redis Cluster (three masters with a
 * replica each).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMemoryEngine } from '../../src/engine/memory.js'
import { createRedisEngine } from '../../src/engine/redis.js'
import type { Engine } from '../../src/engine/types.js'
import { RedisServer } from '../helpers/redis-server.js'
import { RedisCluster } from '../helpers/redis-cluster.js'
import { silentLog } from '../helpers/log.js'
import { waitFor } from '../helpers/ports.js'
import { busContract } from './bus.contract.js'
import { rateLimitContract } from './rate-limit.contract.js'
import { exclusiveRoomsContract } from './exclusive-rooms.contract.js'
import { sharedRoomsContract } from './shared-rooms.contract.js'
import { leasesContract } from './leases.contract.js'
import { jobsContract } from './jobs.contract.js'
import { statusCacheContract } from './status-cache.contract.js'
import { streamsContract } from './streams.contract.js'

const redis = new RedisServer()
const cluster = new RedisCluster()
beforeAll(async () => {
  await Promise.all([redis.start(), cluster.start()])
}, 200_000)
afterAll(async () => {
  await Promise.all([redis.stop(), cluster.stop()])
})

const redisEngine = () =>
  createRedisEngine({ url: redis.url, commandTimeoutMs: 1_000, connectTimeoutMs: 2_000 }, silentLog)
const clusterEngine = () =>
  createRedisEngine(
    {
      url: '',
      cluster: { nodes: cluster.seeds.map((s) => ({ host: '127.0.0.1', port: Number(s.split(':')[1]) })) },
      commandTimeoutMs: 1_000,
      connectTimeoutMs: 5_000,
    },
    silentLog,
  )
const fixture = (engine: Engine) => ({ bus: engine.bus, store: engine.rateLimits, close: () => engine.close() })
const rooms = <K extends 'exclusive' | 'shared'>(engine: Engine, which: K) => ({
  store: engine.rooms[which],
  close: () => engine.close(),
})

busContract('memory', async () => fixture(createMemoryEngine(silentLog)))
busContract('redis', async () => fixture(await redisEngine()))
busContract('cluster', async () => fixture(await clusterEngine()))
rateLimitContract('memory', async () => fixture(createMemoryEngine(silentLog)))
rateLimitContract('redis', async () => fixture(await redisEngine()))
rateLimitContract('cluster', async () => fixture(await clusterEngine()))
exclusiveRoomsContract('memory', async () => rooms(createMemoryEngine(silentLog), 'exclusive'))
exclusiveRoomsContract('redis', async () => rooms(await redisEngine(), 'exclusive'))
exclusiveRoomsContract('cluster', async () => rooms(await clusterEngine(), 'exclusive'))
sharedRoomsContract('memory', async () => rooms(createMemoryEngine(silentLog), 'shared'))
sharedRoomsContract('redis', async () => rooms(await redisEngine(), 'shared'))
sharedRoomsContract('cluster', async () => rooms(await clusterEngine(), 'shared'))
jobsContract('memory', async () => ({ store: createMemoryEngine(silentLog).jobs, close: async () => {} }))
jobsContract('redis', async () => {
  const engine = await redisEngine()
  // Each test starts from an empty Redis: claims look at every job.
  const client = redis.client()
  await client.flushall()
  client.disconnect()
  return { store: engine.jobs, close: () => engine.close() }
})
statusCacheContract('memory', async () => ({ store: createMemoryEngine(silentLog).statusCache, close: async () => {} }))
statusCacheContract('redis', async () => {
  const engine = await redisEngine()
  return { store: engine.statusCache, close: () => engine.close() }
})
streamsContract('memory', async () => createMemoryEngine(silentLog))
streamsContract('redis', redisEngine)
streamsContract('cluster', clusterEngine)
jobsContract('cluster', async () => {
  const engine = await clusterEngine()
  await cluster.flushAll()
  return { store: engine.jobs, close: () => engine.close() }
})
statusCacheContract('cluster', async () => {
  const engine = await clusterEngine()
  return { store: engine.statusCache, close: () => engine.close() }
})
for (const [name, create] of [['Redis', redisEngine], ['Redis Cluster', clusterEngine]] as const) {
  describe(`${name} leases`, () => {
    leasesContract(async () => {
      const [a, b] = await Promise.all([create(), create()])
      return { a: a.leases, b: b.leases, close: () => Promise.all([a.close(), b.close()]).then(() => undefined) }
    })
  })
}

describe('Redis engine across instances', () => {
  it('delivers a message published by one instance to the others, and counts them', async () => {
    const [a, b, c] = await Promise.all([redisEngine(), redisEngine(), redisEngine()])
    try {
      const got: string[] = []
      await b.bus.subscribe('x', (m) => got.push(`b:${m}`))
      await c.bus.subscribe('x', (m) => got.push(`c:${m}`))
      expect(await a.bus.publish('x', 'hi')).toBe(2)
      await waitFor(() => got.length === 2)
      expect(got.sort()).toEqual(['b:hi', 'c:hi'])
    } finally {
      await Promise.all([a.close(), b.close(), c.close()])
    }
  })

  it('shares one bucket between instances', async () => {
    const [a, b] = await Promise.all([redisEngine(), redisEngine()])
    try {
      const rule = { rps: 0.001, burst: 4 }
      const verdicts = await Promise.all(
        Array.from({ length: 10 }, async (_, i) => (i % 2 ? a : b).rateLimits.take('shared', 'one-client', rule)),
      )
      expect(verdicts.filter((v) => v.allowed)).toHaveLength(4)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('keeps bucket keys under rg: and lets them expire', async () => {
    const e = await redisEngine()
    const client = redis.client()
    try {
      await e.rateLimits.take('http', '10.1.2.3', { rps: 10, burst: 20 })
      const ttl = await client.pttl('rg:rl:http:10.1.2.3')
      expect(ttl).toBeGreaterThan(0)
      expect(ttl).toBeLessThanOrEqual(3_000)
    } finally {
      client.disconnect()
      await e.close()
    }
  })

  it("stores seed 000's mapping exactly as the seed shows it, and frees a node whose mapping was deleted by hand", async () => {
    const e = await redisEngine()
    const client = redis.client()
    try {
      await e.rooms.exclusive.start('gwseed', 'math101', ['192.168.1.12'])
      expect(await client.get('room:math101')).toBe('192.168.1.12|started||')
      await e.rooms.exclusive.stop('math101')
      await e.rooms.exclusive.writeProgress('math101', '192.168.1.12', '00:02:43', '80%')
      expect(await client.get('room:math101')).toBe('192.168.1.12|stopped|00:02:43|80%')
      await client.del('room:math101')
      expect(await e.rooms.exclusive.start('gwseed', 'physics', ['192.168.1.12'])).toEqual({ status: 'created', node: '192.168.1.12' })
    } finally {
      client.disconnect()
      await e.close()
    }
  })

  it('rebuilds per-node load counts lost in Redis', async () => {
    const e = await redisEngine()
    const client = redis.client()
    const pool = { name: 'drift', strategy: 'least-loaded' as const, nodes: ['n1', 'n2'], capacity: 10 }
    try {
      await e.rooms.shared.place(pool, 'a', { user: 'u1', holder: 'h', ttlMs: 60_000 })
      await e.rooms.shared.place(pool, 'a', { user: 'u2', holder: 'h', ttlMs: 60_000 })
      await client.del('rg:nusers:drift:n1', 'rg:nrooms:drift')
      await e.rooms.shared.recount(pool)
      expect(await client.hgetall('rg:nusers:drift:n1')).toEqual({ u1: '1', u2: '1' })
      expect(await client.hgetall('rg:nrooms:drift')).toEqual({ n1: '1' })
      expect((await e.rooms.shared.place(pool, 'b')).node).toBe('n2')
    } finally {
      client.disconnect()
      await e.close()
    }
  })

  it('drops expired jobs from the listing index as new jobs come', async () => {
    const e = await redisEngine()
    const client = redis.client()
    try {
      await client.del('rg:jobs', 'rg:jobs:queue')
      const ids: string[] = []
      for (let i = 0; i < 30; i++) {
        ids.push(crypto.randomUUID())
        await e.jobs.create(ids[i]!, [{ rel: 'x', size: 1 }])
      }
      for (const id of ids) await e.jobs.cancel(id, 20)
      expect(await client.zcard('rg:jobs')).toBe(30)
      await new Promise((r) => setTimeout(r, 100))
      await e.jobs.create(crypto.randomUUID(), [{ rel: 'x', size: 1 }])
      expect(await client.zcard('rg:jobs')).toBe(1)
      expect(await e.jobs.queued()).toBe(1)
    } finally {
      client.disconnect()
      await e.close()
    }
  })

  it('releases its connections on close', async () => {
    const client = redis.client()
    const e = await redisEngine()
    const names = async () =>
      String(await client.client('LIST')).split('\n').filter((l: string) => l.includes(`name=roomgate:${e.instanceId}`))
    expect(await names()).toHaveLength(2)
    await e.close()
    await waitFor(async () => (await names()).length === 0)
    client.disconnect()
  })
})
