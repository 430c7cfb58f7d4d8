// Scenario sse-fanout: one status change reaching 5,000 SSE subscribers.
// roomgate's status proxy reads a fake client API (a node:http server in this
// process, 50 units); the subscribers are spread over 4 client processes
// (bench/sse-client.js). Each round flips one unit, arms the clients with the
// id the change will carry, takes t0 and POSTs the refresh; every client
// timestamps the arrival of that id on each of its streams. deliveries/s =
// subscribers reached / (last arrival - t0); p50/p99 of the arrivals - t0.
// Beside it, node-sse: a minimal node:http SSE server (this file, run with
// `node-sse-server`) writing one pre-encoded frame of the same size to every
// response when told, timed the same way: the floor on this machine. Also the
// server's RSS growth per idle subscriber, before and after connecting them.
import { fork, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { Agent, createServer, request } from 'node:http'
import { tmpdir } from 'node:os'
import { setImmediate } from 'node:timers'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { children, freePort, LOAD_CPU, median, pinning, startProcess, stop } from './lib.js'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const SLUG = 'bench'
const UNITS = 50
const CLIENTS = 4
/** Streams each client opens at a time while connecting. */
const CONNECT_CONCURRENCY = 64
const ROUND_TIMEOUT_MS = 10_000
const WARMUP_ROUNDS = 3
/** A pause before each change, so one round's aftermath (GC, the clients' reports) is over before the next. */
const PAUSE_MS = 100
/** Descriptors a server keeps for itself (listener, pipes, client API, /metrics…) beside its subscribers. */
const FD_RESERVE = 256
/** The longest period roomgate accepts: no poll, cache expiry or ping during the rounds. */
const DAY = 86_400
const MAPPING = { available: ['open'], reserved: ['hold'] }
const STANDARD = { open: 'available', hold: 'reserved' }

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const now = () => performance.timeOrigin + performance.now()
const HAS_TASKSET = spawnSync('taskset', ['-c', '0', 'true']).status === 0

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

/** The soft limit on open files the children inherit (null: unlimited). */
function fdLimit() {
  const out = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim()
  return /^\d+$/.test(out) ? Number(out) : null
}

/** Seed 004's SSE encoding (src/status/sse.ts), for node-sse's frame. */
const sseFrame = (event, data, id) => `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`

/** The client's status API: 50 units; `flip(i)` changes one of them. */
function clientApi() {
  const units = Array.from({ length: UNITS }, (_, i) => ({ ref: `A-${i + 1}`, status: i % 3 === 0 ? 'hold' : 'open' }))
  let body = JSON.stringify(units)
  let reads = 0
  const server = createServer((req, res) => {
    req.resume()
    reads++
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
  server.keepAliveTimeout = 60_000
  return {
    listen: () => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}/units`))),
    flip(i) {
      const u = units[i % UNITS]
      u.status = u.status === 'open' ? 'hold' : 'open'
      body = JSON.stringify(units)
    },
    /** The statuses roomgate shows for the current answer. */
    statuses: () => Object.fromEntries(units.map((u) => [u.ref, STANDARD[u.status]])),
    reads: () => reads,
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}

const agent = new Agent({ keepAlive: true })
/** A request on a kept-alive socket (after the first), so t0 is not followed by a connect. */
function http(url, { method = 'GET', body } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers: body ? { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) } : {} }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (text += d))
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${method} ${url}: ${res.statusCode} ${text}`))))
    })
    req.on('error', reject)
    req.end(body)
  })
}

/**
 * A full GC in a child, through its inspector (roomgate has no GC endpoint):
 * memory is then read with the garbage of the connects gone, alike in both
 * servers. Only the HeapProfiler domain is used (no debugger: no deopts).
 */
async function collectGarbage(inspectPort) {
  const [target] = await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()
  const ws = new WebSocket(target.webSocketDebuggerUrl)
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  try {
    for (let id = 1; id <= 2; id++) {
      await new Promise((resolve, reject) => {
        ws.on('message', (m) => JSON.parse(m).id === id && resolve())
        ws.once('close', () => reject(new Error('inspector closed')))
        ws.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }))
      })
    }
  } finally {
    ws.close()
  }
}

const metric = (text, name) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+(\\S+)`, 'm').exec(text)?.[1])

async function startRoomgate(apiUrl, subscribers, nodeFlags) {
  const port = await freePort()
  const inspectPort = await freePort()
  const config = join(tmpdir(), `roomgate-bench-sse-${process.pid}.json`)
  writeFileSync(
    config,
    JSON.stringify({
      host: '127.0.0.1',
      logLevel: 'warn',
      rateLimit: { rps: 1_000_000_000, burst: 1_000_000_000 },
      status: {
        keepaliveSeconds: DAY,
        refreshPerMinute: 1_000_000,
        maxSubscribers: Math.max(10_000, subscribers + 100),
        // Every bench client connects from 127.0.0.1.
        maxSubscribersPerIp: subscribers + 100,
        sources: [
          { slug: SLUG, url: apiUrl, mapping: MAPPING, pollIntervalSeconds: DAY, cacheTtlSeconds: DAY, timeoutSeconds: 5, retryCount: 0 },
        ],
      },
    }),
  )
  const base = `http://127.0.0.1:${port}`
  const { proc } = await startProcess([...nodeFlags, `--inspect=127.0.0.1:${inspectPort}`, here('../bin/roomgate.js'), 'start', '--config', config], { PORT: String(port), REDIS_URL: '' }, `${base}/readyz`)
  return {
    proc,
    streamUrl: `${base}/api/public/${SLUG}/status/stream`,
    async memory() {
      await collectGarbage(inspectPort)
      const text = await http(`${base}/metrics`)
      return { rss: metric(text, 'process_resident_memory_bytes'), heap: metric(text, 'nodejs_heap_used_bytes') }
    },
    async trigger() {
      const answer = JSON.parse(await http(`${base}/api/public/${SLUG}/status/refresh`, { method: 'POST' }))
      if (!answer.refreshed) throw new Error(`roomgate refresh not done: ${JSON.stringify(answer)}`)
    },
  }
}

async function startNodeSse() {
  const inspectPort = await freePort()
  const { proc, port } = await startProcess([`--inspect=127.0.0.1:${inspectPort}`, here('./sse-fanout.js'), 'node-sse-server'], {})
  const base = `http://127.0.0.1:${port}`
  return {
    proc,
    streamUrl: `${base}/stream`,
    async memory() {
      await collectGarbage(inspectPort)
      const m = JSON.parse(await http(`${base}/memory`))
      return { rss: m.rss, heap: m.heapUsed }
    },
    trigger: async (frame) => JSON.parse(await http(`${base}/publish`, { method: 'POST', body: frame })),
  }
}

/** The client processes, on the load cpu (the servers are on the other one). */
async function startClients() {
  const clients = []
  for (let i = 0; i < CLIENTS; i++) {
    const proc = fork(here('./sse-client.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    children.push(proc)
    if (HAS_TASKSET) spawnSync('taskset', ['-a', '-p', '-c', LOAD_CPU, String(proc.pid)], { stdio: 'ignore' })
    const waiting = []
    proc.on('message', (m) => {
      const i = waiting.findIndex((w) => w.type === m.type && (w.name === undefined || w.name === m.name))
      if (i !== -1) waiting.splice(i, 1)[0].resolve(m)
    })
    proc.once('exit', (code) => {
      for (const w of waiting.splice(0)) w.reject(new Error(`sse client exited with ${code}`))
    })
    const next = (type, name) => new Promise((resolve, reject) => waiting.push({ type, name, resolve, reject }))
    const ready = next('ready')
    await ready
    clients.push({ proc, next, send: (m) => proc.send(m) })
  }
  return clients
}

/** Opens `subscribers` streams to `url`, spread over the clients; the ids of their snapshots. */
async function connectAll(clients, name, url, subscribers) {
  const share = (i) => Math.floor(subscribers / CLIENTS) + (i < subscribers % CLIENTS ? 1 : 0)
  const replies = await Promise.all(
    clients.map((c, i) => {
      const reply = c.next('connected', name)
      c.send({ type: 'connect', name, url, count: share(i), concurrency: CONNECT_CONCURRENCY })
      return reply
    }),
  )
  const opened = replies.reduce((n, r) => n + r.opened, 0)
  if (opened !== subscribers) {
    const error = replies.find((r) => r.error)?.error
    throw new Error(`${name}: ${opened} of ${subscribers} streams opened (${error ?? 'no error reported'})`)
  }
  return { minId: Math.min(...replies.map((r) => r.minId)), maxId: Math.max(...replies.map((r) => r.maxId)) }
}

/** One change: arm the clients with its id, t0, trigger, gather the arrival times. */
async function round(clients, name, id, trigger) {
  await sleep(PAUSE_MS)
  await Promise.all(
    clients.map((c) => {
      const armed = c.next('armed', name)
      c.send({ type: 'arm', name, id, timeoutMs: ROUND_TIMEOUT_MS })
      return armed
    }),
  )
  const gathered = Promise.all(clients.map((c) => c.next('times', name)))
  gathered.catch(() => undefined) // a failed trigger throws first; this must not go unhandled meanwhile
  const t0 = now()
  const answer = await trigger()
  const replies = await gathered
  const latencies = []
  let misses = 0
  for (const r of replies) {
    if (r.id !== id) throw new Error(`${name}: times for id ${r.id}, expected ${id}`)
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
  }
}

export async function sseFanoutScenario({ quick, rounds = quick ? 3 : 10, subscribers = 5_000, nodeFlags = [] }) {
  const limit = fdLimit()
  const wanted = subscribers
  if (limit !== null) subscribers = Math.min(subscribers, limit - FD_RESERVE)
  if (subscribers < 1) throw new Error(`sse-fanout: ulimit -n is ${limit}, too low for any subscriber`)
  if (subscribers < wanted) process.stderr.write(`sse-fanout: ${subscribers} subscribers, not ${wanted}: ulimit -n is ${limit}\n`)

  const api = clientApi()
  const apiUrl = await api.listen()
  const started = []
  try {
    const rg = await startRoomgate(apiUrl, subscribers, nodeFlags)
    started.push(rg.proc)
    const ns = await startNodeSse()
    started.push(ns.proc)
    const clients = await startClients()
    started.push(...clients.map((c) => c.proc))

    // Idle memory per subscriber: RSS (and V8 heap) growth from before connecting them to
    // after, each read after a full GC. The first tenth is also measured alone: the growth
    // past it is the cost of one more subscriber, without the one-time growth of a fresh
    // process (heap spaces, the first channel).
    const memory = {}
    const versions = {}
    const first = Math.ceil(subscribers / 10)
    const mib = (x) => (x / 2 ** 20).toFixed(1)
    for (const [name, sys] of [['roomgate', rg], ['node-sse', ns]]) {
      const before = await sys.memory()
      const a = await connectAll(clients, name, sys.streamUrl, first)
      await sleep(500)
      const mid = await sys.memory()
      const b = await connectAll(clients, name, sys.streamUrl, subscribers - first)
      const ids = [a.minId, a.maxId, b.minId, b.maxId]
      if (Math.min(...ids) !== Math.max(...ids)) throw new Error(`${name}: subscribers got snapshots ${ids}, not one version`)
      versions[name] = ids[0]
      await sleep(1_000)
      const after = await sys.memory()
      const per = (key, from, n) => (after[key] - from[key]) / 1024 / n
      memory[name] = {
        before,
        mid,
        after,
        kbPerConn: per('rss', before, subscribers),
        marginalKbPerConn: per('rss', mid, subscribers - first),
        heapKbPerConn: per('heap', before, subscribers),
      }
      process.stderr.write(
        `sse-fanout ${name}: ${subscribers} subscribers; after GC, RSS ${[before, mid, after].map((m) => mib(m.rss)).join(' -> ')} MiB, heap ${[before, mid, after].map((m) => mib(m.heap)).join(' -> ')} MiB (none, ${first}, all)\n`,
      )
    }

    let flips = 0
    const systems = {
      roomgate: async () => {
        api.flip(flips++)
        return round(clients, 'roomgate', ++versions.roomgate, () => rg.trigger())
      },
      'node-sse': async () => {
        api.flip(flips++)
        const id = ++versions['node-sse']
        const frame = sseFrame('status_update', { statuses: api.statuses() }, id)
        return round(clients, 'node-sse', id, () => ns.trigger(frame))
      },
    }
    // Warm-up, not measured: JIT, the kept-alive sockets of the triggers and of roomgate's client-API reads.
    for (let i = 0; i < WARMUP_ROUNDS; i++) for (const run of Object.values(systems)) await run()

    const samples = Object.fromEntries(Object.keys(systems).map((s) => [s, []]))
    const entries = Object.entries(systems)
    for (let r = 0; r < rounds; r++) {
      const order = entries.map((_, i) => entries[(i + r) % entries.length])
      for (const [name, run] of order) {
        const x = await run()
        samples[name].push(x)
        process.stderr.write(
          `round ${r + 1}/${rounds} ${name}: ${Math.round(x.deliveriesPerS)} deliveries/s, first ${x.firstMs.toFixed(1)} ms, p50 ${x.p50.toFixed(1)} ms, p99 ${x.p99.toFixed(1)} ms, last ${x.lastMs.toFixed(1)} ms${x.answer?.ms === undefined ? '' : ` (server loop ${x.answer.ms.toFixed(1)} ms)`}${x.misses ? `, ${x.misses} missed` : ''}\n`,
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
    }
    // How long node-sse takes to write the frame to every socket: the rest of its last_ms is the clients' reading.
    figures['node-sse'].server_write_ms = fixed(median(samples['node-sse'].map((x) => x.answer.ms)), 2)
    // Paired: each round runs both back to back, so the median of per-round ratios shrugs off drift.
    const against = 'node-sse'
    const paired = (f) => fixed(median(samples.roomgate.map((x, r) => f(x) / f(samples[against][r]))), 2)
    return {
      figures,
      ratios: {
        against,
        roomgate: paired((x) => x.deliveriesPerS),
        roomgate_p99: paired((x) => x.p99),
        roomgate_kb_per_conn: fixed(memory.roomgate.kbPerConn / memory[against].kbPerConn, 2),
      },
      settings: {
        rounds,
        subscribers,
        subscribers_wanted: wanted,
        fd_limit: limit,
        clients: CLIENTS,
        units: UNITS,
        frame_bytes: Buffer.byteLength(sseFrame('status_update', { statuses: api.statuses() }, versions['node-sse'])),
        warmup_rounds: WARMUP_ROUNDS,
        round_timeout_ms: ROUND_TIMEOUT_MS,
        client_api_reads: api.reads(),
        memory_after_gc_bytes: Object.fromEntries(Object.entries(memory).map(([k, m]) => [k, { before: m.before, [`after_${first}`]: m.mid, after: m.after }])),
        client_bytes: stats.reduce((n, s) => n + s.bytes, 0),
        clock_skew_ms: Math.max(...stats.map((s) => Math.abs(s.clockSkewMs))),
        pinning: HAS_TASKSET ? pinning.replace('wrk', `${CLIENTS} client processes`) : pinning,
        nodeFlags,
      },
    }
  } finally {
    await Promise.all(started.map(stop))
    await api.close()
    agent.destroy()
  }
}

/** node-sse: GET /stream subscribes, POST /publish writes its body to every subscriber, GET /memory. */
function nodeSseServer() {
  const streams = new Set()
  let id = 0
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
      res.write(`id: ${id}\nevent: connected\ndata: {}\n\n`)
      streams.add(res)
      res.once('close', () => streams.delete(res))
      return
    }
    if (req.method === 'POST' && req.url === '/publish') {
      const chunks = []
      req.on('data', (c) => chunks.push(c))
      req.on('end', () => {
        const frame = Buffer.concat(chunks)
        id = Number(/^id: (\d+)/.exec(frame.toString('latin1'))?.[1] ?? id)
        const started = performance.now()
        for (const s of streams) s.write(frame)
        // The writes are corked until the next tick: they reach the sockets before setImmediate.
        setImmediate(() => res.end(JSON.stringify({ written: streams.size, ms: performance.now() - started })))
      })
      return
    }
    if (req.url === '/memory') {
      req.resume()
      res.end(JSON.stringify(process.memoryUsage()))
      return
    }
    req.resume()
    res.writeHead(404).end()
  })
  server.keepAliveTimeout = 60_000
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => console.log(JSON.stringify({ port: server.address().port })))
  process.once('SIGTERM', () => {
    for (const s of streams) s.destroy()
    server.close(() => process.exit(0))
  })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === 'node-sse-server') nodeSseServer()
  else {
    // Standalone: node bench/sse-fanout.js [--quick] [--cpu-prof] (profiles the roomgate child into $TMPDIR/roomgate-sse-prof).
    const quick = process.argv.includes('--quick')
    const nodeFlags = process.argv.includes('--cpu-prof') ? ['--cpu-prof', `--cpu-prof-dir=${join(tmpdir(), 'roomgate-sse-prof')}`] : []
    try {
      const r = await sseFanoutScenario({ quick, nodeFlags })
      console.log(JSON.stringify(r, null, 2))
    } finally {
      await Promise.all(children.map(stop))
    }
  }
}
