// Scenario ws-fanout: one broadcast reaching 5,000 WebSocket clients, spread
// over 4 client processes (bench/ws-client.js) on the load cpu; the servers are
// on the other one. Systems:
// - roomgate: clients connect to /ws?device_id=…; the broadcast is POST
//   /internal/broadcast {"event":"tick","data":{"seq":N},"targets":{"all":true}}
//   (memory engine);
// - ws: a plain `ws` server loop sending one pre-serialised frame to every
//   client (bench/servers/ws-fanout.js): the floor on this machine;
// - socket.io: a socket.io 4 server doing io.emit('tick', {seq})
//   (bench/servers/socketio-fanout.js), clients on socket.io-client with the
//   websocket transport only. Reported as missing when bench/setup.sh could
//   not install it.
// Each round arms the clients with the sequence number, takes t0 and POSTs the
// trigger; every client timestamps the arrival of that number on each of its
// connections. deliveries/s = connections reached / (last arrival - t0);
// p50/p99 of the arrivals - t0. Rounds rotate the systems' order; ratios are
// medians of per-round ratios. Also each server's RSS growth per idle
// connection, read after a full GC (through the inspector) before and after
// connecting them, as in sse-fanout.
import { fork, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { children, freePort, LOAD_CPU, median, pinning, startProcess, stop } from './lib.js'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const CLIENTS = 4
/** Connections each client opens at a time while connecting. */
const CONNECT_CONCURRENCY = 64
const ROUND_TIMEOUT_MS = 10_000
const WARMUP_ROUNDS = 2
/** A pause before each broadcast, so one round's aftermath (GC, the clients' reports) is over before the next. */
const PAUSE_MS = 100
/** Descriptors a process keeps for itself (listener, pipes, inspector…) beside its connections. */
const FD_RESERVE = 256
/** No ping round during the run, in any system (roomgate's, socket.io's; the ws floor has none). */
const DAY_MS = 86_400_000
const TOKEN = 'bench-internal-token'
export const TARGETS = { 'socket.io': 2, ws: 1, server_kb_per_conn: 10 }

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
export const now = () => performance.timeOrigin + performance.now()
export const HAS_TASKSET = spawnSync('taskset', ['-c', '0', 'true']).status === 0

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

/** The soft limit on open files the children inherit (null: unlimited). */
export function fdLimit() {
  const out = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim()
  return /^\d+$/.test(out) ? Number(out) : null
}

/** The npm peers bench/setup.sh could not install (bench/peers/missing.txt), plus any that do not resolve. */
export function missingPeers(names) {
  const file = here('./peers/missing.txt')
  const listed = existsSync(file) ? readFileSync(file, 'utf8').split('\n').map((l) => l.trim()) : []
  const peers = createRequire(here('./peers/package.json'))
  return names.filter((n) => {
    if (listed.includes(n)) return true
    try {
      peers.resolve(n)
      return false
    } catch {
      return true
    }
  })
}

const agent = new Agent({ keepAlive: true })
/** A request on a kept-alive socket (after the first), so t0 is not followed by a connect. */
export function http(url, { method = 'GET', body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const h = body === undefined ? headers : { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), ...headers }
    const req = request(url, { method, agent, headers: h }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (text += d))
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${method} ${url}: ${res.statusCode} ${text}`))))
    })
    req.on('error', reject)
    req.end(body)
  })
}
export const closeAgent = () => agent.destroy()

/**
 * Asks a child's inspector for a full GC, then for its heap use. Only the
 * HeapProfiler and Runtime domains are used (no debugger: no deopts).
 */
async function inspect(inspectPort) {
  const [target] = await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()
  const ws = new WebSocket(target.webSocketDebuggerUrl)
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  const call = (id, method) =>
    new Promise((resolve, reject) => {
      const onMessage = (m) => {
        const reply = JSON.parse(m)
        if (reply.id !== id) return
        ws.off('message', onMessage)
        resolve(reply.result)
      }
      ws.on('message', onMessage)
      ws.once('close', () => reject(new Error('inspector closed')))
      ws.send(JSON.stringify({ id, method }))
    })
  try {
    await call(1, 'HeapProfiler.collectGarbage')
    await call(2, 'HeapProfiler.collectGarbage')
    return await call(3, 'Runtime.getHeapUsage')
  } finally {
    ws.close()
  }
}

/** RSS (from /proc, alike for every server) and V8 heap use of a child after a full GC. */
export async function memoryAfterGc(proc, inspectPort) {
  const { usedSize } = await inspect(inspectPort)
  const status = readFileSync(`/proc/${proc.pid}/status`, 'utf8')
  const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1])
  return { rss: rssKb * 1024, heap: usedSize }
}

/** The client processes, on the load cpu (the servers are on the other one). */
export async function startClients(count) {
  const clients = []
  for (let i = 0; i < count; i++) {
    const proc = fork(here('./ws-client.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    children.push(proc)
    if (HAS_TASKSET) spawnSync('taskset', ['-a', '-p', '-c', LOAD_CPU, String(proc.pid)], { stdio: 'ignore' })
    const waiting = []
    proc.on('message', (m) => {
      const j = waiting.findIndex((w) => w.type === m.type && (w.name === undefined || w.name === m.name))
      if (j !== -1) waiting.splice(j, 1)[0].resolve(m)
    })
    proc.once('exit', (code) => {
      for (const w of waiting.splice(0)) w.reject(new Error(`ws client exited with ${code}`))
    })
    const next = (type, name) => new Promise((resolve, reject) => waiting.push({ type, name, resolve, reject }))
    const ready = next('ready')
    proc.send({ type: 'init', index: i })
    await ready
    clients.push({ proc, next, send: (m) => proc.send(m) })
  }
  return clients
}

/** Opens `total` connections to `url`, spread over the clients. */
export async function connectAll(clients, { name, kind = 'ws', url, deviceIds = false, total }) {
  const share = (i) => Math.floor(total / clients.length) + (i < total % clients.length ? 1 : 0)
  const replies = await Promise.all(
    clients.map((c, i) => {
      const reply = c.next('connected', name)
      c.send({ type: 'connect', name, kind, url, deviceIds, count: share(i), concurrency: CONNECT_CONCURRENCY })
      return reply
    }),
  )
  const opened = replies.reduce((n, r) => n + r.opened, 0)
  if (opened !== total) {
    const error = replies.find((r) => r.error)?.error
    throw new Error(`${name}: ${opened} of ${total} connections opened (${error ?? 'no error reported'})`)
  }
}

/** One broadcast: arm the clients with its number, t0, trigger, gather the arrival times. */
async function round(clients, name, seq, trigger) {
  await sleep(PAUSE_MS)
  await Promise.all(
    clients.map((c) => {
      const armed = c.next('armed', name)
      c.send({ type: 'arm', name, seq, timeoutMs: ROUND_TIMEOUT_MS })
      return armed
    }),
  )
  const gathered = Promise.all(clients.map((c) => c.next('times', name)))
  gathered.catch(() => undefined) // a failed trigger throws first; this must not go unhandled meanwhile
  const t0 = now()
  const answer = await trigger(seq)
  const answerMs = now() - t0
  const replies = await gathered
  const latencies = []
  let misses = 0
  for (const r of replies) {
    if (r.seq !== seq) throw new Error(`${name}: times for seq ${r.seq}, expected ${seq}`)
    for (const t of r.times) {
      if (t === null) misses++
      else latencies.push(t - t0)
    }
  }
  latencies.sort((a, b) => a - b)
  const lastMs = latencies.at(-1) ?? NaN
  return {
    deliveriesPerS: latencies.length / (lastMs / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    firstMs: latencies[0] ?? NaN,
    lastMs,
    misses,
    answer,
    answerMs,
  }
}

async function startRoomgate(connections, nodeFlags) {
  const port = await freePort()
  const inspectPort = await freePort()
  const config = join(tmpdir(), `roomgate-bench-ws-fanout-${process.pid}.json`)
  writeFileSync(
    config,
    JSON.stringify({
      host: '127.0.0.1',
      logLevel: 'warn',
      auth: { internalToken: TOKEN },
      rateLimit: { rps: 1_000_000_000, burst: 1_000_000_000 },
      ws: { pingIntervalMs: DAY_MS },
    }),
  )
  const base = `http://127.0.0.1:${port}`
  const { proc } = await startProcess(
    [...nodeFlags, `--inspect=127.0.0.1:${inspectPort}`, here('../bin/roomgate.js'), 'start', '--config', config],
    { PORT: String(port), REDIS_URL: '' },
    `${base}/readyz`,
  )
  return {
    proc,
    kind: 'ws',
    url: `ws://127.0.0.1:${port}/ws`,
    deviceIds: true,
    memory: () => memoryAfterGc(proc, inspectPort),
    async trigger(seq) {
      const body = JSON.stringify({ event: 'tick', data: { seq }, targets: { all: true } })
      const answer = JSON.parse(
        await http(`${base}/internal/broadcast`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-internal-token': TOKEN } }),
      )
      if (answer.delivered !== connections) throw new Error(`roomgate broadcast reached ${answer.delivered} of ${connections}: ${JSON.stringify(answer)}`)
      return answer
    },
  }
}

/** The ws floor or socket.io: bench/servers/<script>, POST /publish with the number as body. */
async function startPeer(script, kind, path, connections, nodeFlags) {
  const inspectPort = await freePort()
  const { proc, port } = await startProcess([...nodeFlags, `--inspect=127.0.0.1:${inspectPort}`, here(`./servers/${script}`)], {})
  const base = `http://127.0.0.1:${port}`
  return {
    proc,
    kind,
    url: `${kind === 'ws' ? 'ws' : 'http'}://127.0.0.1:${port}${path}`,
    deviceIds: false,
    memory: () => memoryAfterGc(proc, inspectPort),
    async trigger(seq) {
      const answer = JSON.parse(await http(`${base}/publish`, { method: 'POST', body: String(seq) }))
      if (answer.written !== connections) throw new Error(`${script} wrote to ${answer.written} of ${connections}`)
      return answer
    },
  }
}

/** nodeFlags: for the roomgate child (--cpu-prof…); peerNodeFlags: for the ws and socket.io servers. */
export async function wsFanoutScenario({ quick, rounds = quick ? 3 : 10, connections = 5_000, nodeFlags = [], peerNodeFlags = [] }) {
  /** name -> why it is not measured (reported, never silently dropped). */
  const missing = {}
  const notInstalled = missingPeers(['socket.io', 'socket.io-client'])
  if (notInstalled.length) missing['socket.io'] = `not installed: ${notInstalled.join(', ')} (bench/peers/missing.txt)`
  const systemsWanted = ['roomgate', 'ws', 'socket.io'].filter((s) => !(s in missing))
  // Every server holds `connections` sockets; the clients hold them for every system at once.
  const limit = fdLimit()
  const wanted = connections
  if (limit !== null) connections = Math.min(connections, limit - FD_RESERVE, Math.floor(((limit - FD_RESERVE) * CLIENTS) / systemsWanted.length))
  if (connections < 1) throw new Error(`ws-fanout: ulimit -n is ${limit}, too low for any connection`)
  if (connections < wanted) process.stderr.write(`ws-fanout: ${connections} connections, not ${wanted}: ulimit -n is ${limit}\n`)

  const started = []
  try {
    const servers = {}
    servers.roomgate = await startRoomgate(connections, nodeFlags)
    started.push(servers.roomgate.proc)
    const pids = { roomgate: servers.roomgate.proc.pid }
    servers.ws = await startPeer('ws-fanout.js', 'ws', '/ws', connections, peerNodeFlags)
    started.push(servers.ws.proc)
    if (!('socket.io' in missing)) {
      try {
        servers['socket.io'] = await startPeer('socketio-fanout.js', 'socket.io', '', connections, peerNodeFlags)
        started.push(servers['socket.io'].proc)
      } catch (err) {
        missing['socket.io'] = `did not start: ${err.message}`
      }
    }
    for (const [name, why] of Object.entries(missing)) process.stderr.write(`ws-fanout: ${name} is missing: ${why}\n`)
    for (const name of ['ws', 'socket.io']) if (servers[name]) pids[name] = servers[name].proc.pid
    const clients = await startClients(CLIENTS)
    started.push(...clients.map((c) => c.proc))

    // Idle memory per connection: RSS (and V8 heap) growth from before connecting to after,
    // each read after a full GC. The first tenth is also measured alone: the growth past it
    // is the cost of one more connection, without a fresh process's one-time growth.
    const memory = {}
    const first = Math.ceil(connections / 10)
    const mib = (x) => (x / 2 ** 20).toFixed(1)
    for (const [name, sys] of Object.entries(servers)) {
      const before = await sys.memory()
      await connectAll(clients, { name, kind: sys.kind, url: sys.url, deviceIds: sys.deviceIds, total: first })
      await sleep(500)
      const mid = await sys.memory()
      await connectAll(clients, { name, kind: sys.kind, url: sys.url, deviceIds: sys.deviceIds, total: connections - first })
      await sleep(1_000)
      const after = await sys.memory()
      const per = (key, from, n) => (after[key] - from[key]) / 1024 / n
      memory[name] = {
        before,
        mid,
        after,
        kbPerConn: per('rss', before, connections),
        marginalKbPerConn: per('rss', mid, connections - first),
        heapKbPerConn: per('heap', before, connections),
      }
      process.stderr.write(
        `ws-fanout ${name}: ${connections} connections; after GC, RSS ${[before, mid, after].map((m) => mib(m.rss)).join(' -> ')} MiB, heap ${[before, mid, after].map((m) => mib(m.heap)).join(' -> ')} MiB (none, ${first}, all)\n`,
      )
    }

    let seq = 0
    const run = (name) => round(clients, name, ++seq, (n) => servers[name].trigger(n))
    // Warm-up, not measured: JIT, the kept-alive sockets of the triggers.
    for (let i = 0; i < WARMUP_ROUNDS; i++) for (const name of Object.keys(servers)) await run(name)

    const names = Object.keys(servers)
    const samples = Object.fromEntries(names.map((s) => [s, []]))
    for (let r = 0; r < rounds; r++) {
      const order = names.map((_, i) => names[(i + r) % names.length])
      for (const name of order) {
        const x = await run(name)
        samples[name].push(x)
        process.stderr.write(
          `round ${r + 1}/${rounds} ${name}: ${Math.round(x.deliveriesPerS)} deliveries/s, first ${x.firstMs.toFixed(1)} ms, p50 ${x.p50.toFixed(1)} ms, p99 ${x.p99.toFixed(1)} ms, last ${x.lastMs.toFixed(1)} ms, answer ${x.answerMs.toFixed(1)} ms${x.answer?.ms === undefined ? '' : ` (server loop ${x.answer.ms.toFixed(1)} ms)`}${x.misses ? `, ${x.misses} missed` : ''}\n`,
        )
      }
    }
    const stats = await Promise.all(
      clients.map((c) => {
        const reply = c.next('stats')
        c.send({ type: 'stats' })
        return reply
      }),
    )
    for (const c of clients) c.send({ type: 'close' })

    const fixed = (x, d) => Number(x.toFixed(d))
    const figures = {}
    for (const [name, xs] of Object.entries(samples)) {
      figures[name] = {
        deliveries_per_s: Math.round(median(xs.map((x) => x.deliveriesPerS))),
        p50_ms: fixed(median(xs.map((x) => x.p50)), 2),
        p99_ms: fixed(median(xs.map((x) => x.p99)), 2),
        first_ms: fixed(median(xs.map((x) => x.firstMs)), 2),
        last_ms: fixed(median(xs.map((x) => x.lastMs)), 2),
        misses: xs.reduce((n, x) => n + x.misses, 0),
        server_kb_per_conn: fixed(memory[name].kbPerConn, 2),
        server_kb_per_conn_marginal: fixed(memory[name].marginalKbPerConn, 2),
        heap_kb_per_conn: fixed(memory[name].heapKbPerConn, 2),
        runs_deliveries_per_s: xs.map((x) => Math.round(x.deliveriesPerS)),
      }
      // From t0 to the trigger's answer: roomgate answers once its loop has handed the frame to every socket, the peers just after.
      figures[name].answer_ms = fixed(median(xs.map((x) => x.answerMs)), 2)
      // How long the peer's loop took to hand the frame to every socket (roomgate does not say).
      if (xs[0].answer?.ms !== undefined) figures[name].server_loop_ms = fixed(median(xs.map((x) => x.answer.ms)), 2)
    }
    for (const name of Object.keys(missing)) figures[name] = { missing: true }
    // roomgate / peer. Paired: each round runs every system back to back, so the median of
    // per-round ratios shrugs off drift. null when the peer is missing.
    const paired = (peer, f) => (samples[peer] ? fixed(median(samples.roomgate.map((x, r) => f(x) / f(samples[peer][r]))), 2) : null)
    const peers = ['ws', 'socket.io']
    const ratios = {
      deliveries_per_s: Object.fromEntries(peers.map((p) => [p, paired(p, (x) => x.deliveriesPerS)])),
      p99_ms: Object.fromEntries(peers.map((p) => [p, paired(p, (x) => x.p99)])),
      server_kb_per_conn: Object.fromEntries(peers.map((p) => [p, memory[p] ? fixed(memory.roomgate.kbPerConn / memory[p].kbPerConn, 2) : null])),
      targets: TARGETS,
    }
    const meets = (ratio, target) => (ratio === null ? null : ratio >= target)
    ratios.meets = {
      ...Object.fromEntries(peers.map((p) => [`deliveries_per_s_vs_${p}`, meets(ratios.deliveries_per_s[p], TARGETS[p])])),
      server_kb_per_conn: figures.roomgate.server_kb_per_conn <= TARGETS.server_kb_per_conn,
    }
    return {
      figures,
      ratios,
      settings: {
        rounds,
        connections,
        connections_wanted: wanted,
        fd_limit: limit,
        clients: CLIENTS,
        missing,
        frame_bytes: {
          roomgate: Buffer.byteLength(JSON.stringify({ type: 'event', event: 'tick', data: { seq } })),
          ws: Buffer.byteLength(JSON.stringify({ type: 'event', event: 'tick', data: { seq } })),
          'socket.io': Buffer.byteLength(`42${JSON.stringify(['tick', { seq }])}`),
        },
        warmup_rounds: WARMUP_ROUNDS,
        round_timeout_ms: ROUND_TIMEOUT_MS,
        memory_after_gc_bytes: Object.fromEntries(Object.entries(memory).map(([k, m]) => [k, { before: m.before, [`after_${first}`]: m.mid, after: m.after }])),
        client_bytes: stats.reduce((n, s) => n + s.bytes, 0),
        clock_skew_ms: Math.max(...stats.map((s) => Math.abs(s.clockSkewMs))),
        pinning: HAS_TASKSET ? pinning.replace('wrk', `${CLIENTS} client processes`) : pinning,
        nodeFlags,
        peerNodeFlags,
        // The servers' process ids: --cpu-prof names its files after them.
        pids,
      },
    }
  } finally {
    await Promise.all(started.map(stop))
    closeAgent()
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // Standalone: node bench/ws-fanout.js [--quick] [--cpu-prof | --cpu-prof-all]: profiles the roomgate
  // child (-all: the ws and socket.io servers too) into $TMPDIR/roomgate-ws-prof; settings.pids says whose file is whose.
  const quick = process.argv.includes('--quick')
  const all = process.argv.includes('--cpu-prof-all')
  const prof = all || process.argv.includes('--cpu-prof') ? ['--cpu-prof', `--cpu-prof-dir=${join(tmpdir(), 'roomgate-ws-prof')}`] : []
  try {
    const r = await wsFanoutScenario({ quick, nodeFlags: prof, peerNodeFlags: all ? prof : [] })
    console.log(JSON.stringify(r, null, 2))
  } finally {
    await Promise.all(children.map(stop))
  }
}
