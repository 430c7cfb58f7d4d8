// Scenario ws-c100k: many idle identified WebSocket connections, and one
// broadcast to `all` of them. These machines cap every process at 20,000 open
// files (a hard limit), so:
// (a) one roomgate instance at 19,000 connections (history on, then off), and
//     the plain `ws` loop at the same count;
// (b) 100,000 across six roomgate instances on one redis-server (about 16,700
//     each), broadcast sent to the first, history on and then off.
// Clients: bench/ws-client.js processes of at most CLIENT_CONNS connections
// each, every process on its own loopback source address (127.0.0.2…) so
// neither file limits nor ephemeral ports run out; in (b) client i talks to
// instance i mod 6. Figures per system: connect rate (all clients opening 64
// at a time each), server RSS growth per connection after a full GC (summed
// over the instances), and p50/p99 of one `all` broadcast's arrival on every
// connection (from the POST). `--quick`: 5,000 on one instance, 20,000 across two.
import { spawn } from 'node:child_process'
import { tmpdir } from 'node:os'
import { closeAgent, fdLimit, FD_RESERVE, fixed, freePort, isMain, median, printResult, sleep, stop } from './lib.js'
import { closeClients, connectAll, round, startClients } from './clients.js'
import { startPeer, startWsRoomgate } from './ws-fanout.js'

/**
 * Connections one client process holds, each process on its own source
 * address: under its 20,000 open files, and well under the 28,000 ephemeral
 * ports of an address (a bind to a source address searches for a free port,
 * and at 17,000 per address that search cut the connect rate to ~300/s).
 */
const CLIENT_CONNS = 9_000

async function startRedis() {
  const port = await freePort()
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir()], { stdio: 'ignore' })
  await sleep(300)
  return { url: `redis://127.0.0.1:${port}`, proc }
}

/**
 * One system: its servers (`start()` → [{proc, url, memory, trigger}], the
 * first takes the trigger), `total` connections from fresh clients, rounds of
 * one broadcast to all. Everything is stopped before it returns.
 */
async function measure(name, total, rounds, start) {
  const servers = await start()
  const started = servers.map((s) => s.proc)
  try {
    const clientCount = Math.max(servers.length, Math.ceil(total / CLIENT_CONNS))
    const clients = await startClients('./ws-client.js', clientCount)
    started.push(...clients.map((c) => c.proc))
    const before = await Promise.all(servers.map((s) => s.memory()))
    const t0 = performance.now()
    await connectAll(clients, {
      name,
      kind: 'ws',
      urls: servers.map((s) => s.url),
      localAddresses: clients.map((_, i) => `127.0.0.${2 + (i % 250)}`),
      deviceIds: servers[0].deviceIds,
      total,
    })
    const connectS = (performance.now() - t0) / 1000
    await sleep(1_000)
    const after = await Promise.all(servers.map((s) => s.memory()))
    const grown = after.reduce((n, m, i) => n + m.rss - before[i].rss, 0)
    let seq = 0
    const run = () => round(clients, name, ++seq, (n) => servers[0].trigger(n))
    await run() // warm-up
    const xs = []
    for (let r = 0; r < rounds; r++) {
      const x = await run()
      if (x.misses > 0) throw new Error(`${name}: ${x.misses} connections missed broadcast ${x.answer ? JSON.stringify(x.answer) : ''}`)
      process.stderr.write(`${name} round ${r + 1}/${rounds}: p50 ${x.p50.toFixed(0)} ms, p99 ${x.p99.toFixed(0)} ms, last ${x.lastMs.toFixed(0)} ms\n`)
      xs.push(x)
    }
    await closeClients(clients)
    const figures = {
      connections: total,
      instances: servers.length,
      connect_per_s: Math.round(total / connectS),
      server_kb_per_conn: fixed(grown / 1024 / total, 2),
      p50_ms: fixed(median(xs.map((x) => x.p50)), 1),
      p99_ms: fixed(median(xs.map((x) => x.p99)), 1),
      last_ms: fixed(median(xs.map((x) => x.lastMs)), 1),
    }
    process.stderr.write(`${name}: ${JSON.stringify(figures)}\n`)
    return figures
  } finally {
    await Promise.all(started.map(stop))
  }
}

export async function wsC100kScenario({ quick, rounds = quick ? 2 : 5, only }) {
  const limit = fdLimit()
  const one = quick ? 5_000 : Math.min(19_000, (limit ?? 20_000) - FD_RESERVE * 4)
  const [many, instances] = quick ? [20_000, 2] : [100_000, 6]
  const figures = {}
  try {
    // (a) one instance.
    if (only !== 'many') {
      figures.roomgate = await measure('roomgate', one, rounds, async () => [await startWsRoomgate(one, [])])
      figures['roomgate-nohistory'] = await measure('roomgate-nohistory', one, rounds, async () => [await startWsRoomgate(one, [], 0, { tag: '-c100k' })])
      figures.ws = await measure('ws', one, rounds, async () => [await startPeer('ws-fanout.js', 'ws', '/ws', one, [])])
    }
    // (b) many instances on one Redis, history on and off.
    for (const [name, history] of [['roomgate-cluster', undefined], ['roomgate-cluster-nohistory', 0]]) {
      const redis = await startRedis()
      try {
        figures[name] = await measure(name, many, rounds, () =>
          Promise.all(Array.from({ length: instances }, (_, i) => startWsRoomgate(many, [], history, { env: { REDIS_URL: redis.url }, tag: `-c100k-${i}` }))),
        )
      } finally {
        redis.proc.kill('SIGKILL')
      }
    }
  } finally {
    closeAgent()
  }
  const ratio = (a, b, k) => (figures[a] && figures[b] ? fixed(figures[a][k] / figures[b][k], 2) : null)
  return {
    figures,
    ratios: {
      'roomgate/ws': { p99_ms: ratio('roomgate', 'ws', 'p99_ms'), server_kb_per_conn: ratio('roomgate', 'ws', 'server_kb_per_conn'), connect_per_s: ratio('roomgate', 'ws', 'connect_per_s') },
      'history on/off': { one_p99_ms: ratio('roomgate', 'roomgate-nohistory', 'p99_ms'), cluster_p99_ms: ratio('roomgate-cluster', 'roomgate-cluster-nohistory', 'p99_ms') },
      targets: { server_kb_per_conn: 8, cluster_p99_ms: 2_000 },
      meets: { server_kb_per_conn: figures.roomgate ? figures.roomgate.server_kb_per_conn <= 8 : null, cluster_p99_ms: figures['roomgate-cluster'].p99_ms <= 2_000 },
    },
    settings: { rounds, one_instance: one, many, instances, fd_limit: limit, client_conns: CLIENT_CONNS, gc: 'full GC through the inspector before reading RSS' },
  }
}

if (isMain(import.meta.url)) {
  const quick = process.argv.includes('--quick')
  // `--many`: only (b), the instances on one Redis.
  await printResult(() => wsC100kScenario({ quick, only: process.argv.includes('--many') ? 'many' : undefined }))
}
