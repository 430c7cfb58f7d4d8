// Scenario ws-fanout-cluster: one broadcast to `all` reaching connections on
// two roomgate instances, through one of them, with the instances sharing
// (a) one redis-server and (b) a Redis Cluster (three masters with a replica
// each). The clients (bench/ws-client.js, 4 processes) connect half to each
// instance; each round POSTs the broadcast to instance A and times every
// arrival from t0, as ws-fanout does. History on (the default).
import { spawn } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { closeClients, connectAll, round, startClients } from './clients.js'
import { fixed, freePort, http, isMain, median, pairedRatio, printResult, runRounds, sleep, startRoomgate, stop } from './lib.js'
import { startRedisCluster } from './redis-cluster.js'

const CLIENTS = 4
const TOKEN = 'bench-internal-token'
const DAY_MS = 86_400_000

async function startRedis() {
  const port = await freePort()
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  await sleep(300)
  return { env: { REDIS_URL: `redis://127.0.0.1:${port}` }, stop: () => proc.kill('SIGKILL') }
}

/** Two instances on one Redis deployment: their ws URLs and a trigger that broadcasts through the first. */
async function startPair(name, env, connections, started) {
  const config = { auth: { internalToken: TOKEN }, ws: { pingIntervalMs: DAY_MS, maxConnectionsPerIp: 1_000_000 } }
  const instances = []
  for (const i of [0, 1]) {
    const g = await startRoomgate({ file: join(tmpdir(), `roomgate-bench-${name}-${i}-${process.pid}.json`), config, env })
    started.push(g.proc)
    instances.push(g)
  }
  return {
    urls: instances.map((g) => `ws://127.0.0.1:${g.port}/ws`),
    async trigger(seq) {
      const body = JSON.stringify({ event: 'tick', data: { seq }, targets: { all: true } })
      const answer = JSON.parse(
        await http(`${instances[0].base}/internal/broadcast`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-internal-token': TOKEN } }),
      )
      if (answer.delivered !== connections) throw new Error(`${name}: broadcast reached ${answer.delivered} of ${connections}: ${JSON.stringify(answer)}`)
      return answer
    },
  }
}

export async function wsFanoutClusterScenario({ quick, rounds = quick ? 3 : 10, connections = quick ? 1_000 : 4_000 }) {
  const started = []
  const redis = await startRedis()
  const cluster = await startRedisCluster()
  try {
    const clusterEnv = { REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',') }
    const systems = {
      redis: await startPair('redis', redis.env, connections, started),
      'redis-cluster': await startPair('redis-cluster', clusterEnv, connections, started),
    }
    const clients = await startClients('./ws-client.js', CLIENTS)
    started.push(...clients.map((c) => c.proc))
    for (const [name, sys] of Object.entries(systems)) await connectAll(clients, { name, kind: 'ws', urls: sys.urls, deviceIds: true, total: connections })
    let seq = 0
    const run = (name) => round(clients, name, ++seq, (n) => systems[name].trigger(n))
    for (let i = 0; i < 2; i++) for (const name of Object.keys(systems)) await run(name)
    const samples = await runRounds(Object.keys(systems), rounds, run, (x) =>
      `${Math.round(x.deliveriesPerS)} deliveries/s, p50 ${x.p50.toFixed(1)} ms, p99 ${x.p99.toFixed(1)} ms${x.misses ? `, ${x.misses} missed` : ''}`,
    )
    await closeClients(clients)
    const figures = Object.fromEntries(
      Object.entries(samples).map(([name, xs]) => [
        name,
        {
          deliveries_per_s: Math.round(median(xs.map((x) => x.deliveriesPerS))),
          p50_ms: fixed(median(xs.map((x) => x.p50)), 1),
          p99_ms: fixed(median(xs.map((x) => x.p99)), 1),
        },
      ]),
    )
    const perRound = (f) => samples.redis.map((x, i) => f(samples['redis-cluster'][i]) / f(x))
    const spread = (xs) => [fixed(Math.min(...xs), 2), fixed(Math.max(...xs), 2)]
    const ratios = {
      'redis-cluster/redis': {
        deliveries_per_s: fixed(pairedRatio(samples['redis-cluster'], samples.redis, (x) => x.deliveriesPerS), 2),
        deliveries_per_s_range: spread(perRound((x) => x.deliveriesPerS)),
        p99_ms: fixed(pairedRatio(samples['redis-cluster'], samples.redis, (x) => x.p99), 2),
        p99_ms_range: spread(perRound((x) => x.p99)),
      },
    }
    return { figures, ratios, settings: { rounds, connections, instances: 2, clients: CLIENTS } }
  } finally {
    await Promise.all(started.map(stop))
    redis.stop()
    cluster.stop()
  }
}

if (isMain(import.meta.url)) {
  const quick = process.argv.includes('--quick')
  await printResult(() => wsFanoutClusterScenario({ quick }))
}
