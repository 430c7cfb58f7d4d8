// Placement throughput: room assignments per second on the memory engine, on
// Redis (a private redis-server on a free port) and on a Redis Cluster (three
// masters with a replica each), for new rooms (the node is chosen from the
// live load) and for sticky hits (the room is already placed). Both Redis
// systems also place into 6 pools at once: a cluster spreads pools over its
// masters.
import { spawn } from 'node:child_process'
import { pino } from 'pino'
import { createMemoryEngine } from '../dist/engine/memory.js'
import { createRedisEngine } from '../dist/engine/redis.js'
import { freePort, isMain, sleep } from './lib.js'
import { startRedisCluster } from './redis-cluster.js'

const log = pino({ level: 'silent' })
const NODES = Array.from({ length: 12 }, (_, i) => `gxy${i + 1}`)

async function startRedis() {
  const port = await freePort()
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  const url = `redis://127.0.0.1:${port}`
  for (let i = 0; i < 100; i++) {
    try {
      const e = await createRedisEngine({ url, commandTimeoutMs: 5_000, connectTimeoutMs: 200 }, log)
      if (e.state() === 'ready') return { url, proc, engine: e }
      await e.close()
    } catch {
      // not up yet
    }
    await sleep(50)
  }
  proc.kill('SIGKILL')
  throw new Error('redis-server did not start for the placement benchmark')
}

/** Runs `op(i)` for i in [0, count) with `concurrency` in flight; returns ops/s. */
async function rate(count, concurrency, op) {
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await op(next++)
    }),
  )
  return Math.round(count / ((performance.now() - started) / 1000))
}

async function measure(engine, rooms, concurrency, pools = 1) {
  const run = Date.now()
  const specs = Array.from({ length: pools }, (_, p) => ({ name: `bench${run}-${p}`, strategy: 'least-loaded', nodes: NODES, capacity: 200 }))
  const pool = (i) => specs[i % pools]
  const store = engine.rooms.shared
  // New rooms, each with one live user, so the load the choice reads keeps growing.
  const created = await rate(rooms, concurrency, (i) => store.place(pool(i), `room-${i}`, { user: `u${i}`, holder: 'bench', ttlMs: 600_000 }))
  const sticky = await rate(rooms * 5, concurrency, (i) => store.place(pool(i % rooms), `room-${i % rooms}`))
  return { new: created, sticky }
}

/** One pool, then 6 pools at once (after a warm-up pass), on a Redis engine. */
async function measureRedis(engine, rooms) {
  await measure(engine, Math.min(rooms, 500), 32)
  const one = await measure(engine, rooms, 32)
  const six = await measure(engine, rooms, 32, 6)
  return { ops_per_s: one.new, sticky_ops_per_s: one.sticky, six_pools_ops_per_s: six.new, six_pools_sticky_ops_per_s: six.sticky }
}

export async function placementScenario({ quick }) {
  const rooms = quick ? 500 : 2_000
  const memory = createMemoryEngine(log)
  const mem = await measure(memory, rooms, 1)
  await memory.close()
  const redis = await startRedis()
  let red
  try {
    red = await measureRedis(redis.engine, rooms)
  } finally {
    await redis.engine.close()
    redis.proc.kill('SIGKILL')
  }
  const cluster = await startRedisCluster()
  let clu
  try {
    const engine = await createRedisEngine({ url: '', cluster: { nodes: cluster.nodes }, commandTimeoutMs: 5_000, connectTimeoutMs: 5_000 }, log)
    try {
      clu = await measureRedis(engine, rooms)
    } finally {
      await engine.close()
    }
  } finally {
    cluster.stop()
  }
  return {
    rooms,
    figures: {
      memory: { ops_per_s: mem.new, sticky_ops_per_s: mem.sticky },
      redis: red,
      'redis-cluster': clu,
    },
  }
}

if (isMain(import.meta.url)) {
  const quick = process.argv.includes('--quick')
  const r = await placementScenario({ quick })
  console.log(`placement: ${r.rooms} new rooms (one user each) on 12 nodes, then 5 sticky hits per room`)
  for (const [name, f] of Object.entries(r.figures)) console.log(`${name.padEnd(14)} new ${f.ops_per_s}/s   sticky ${f.sticky_ops_per_s}/s   6 pools: new ${f.six_pools_ops_per_s ?? '-'}/s sticky ${f.six_pools_sticky_ops_per_s ?? '-'}/s`)
}
