// What sse-fanout, ws-fanout and ws-events share: the load client processes
// (bench/sse-client.js, bench/ws-client.js, on the load cpu) asked over IPC to
// connect, to arm for a round and to report; a fan-out round and its figures;
// a server's memory per idle connection, read after a GC through its inspector.
import { fork, spawnSync } from 'node:child_process'
import WebSocket from 'ws'
import { children, fixed, HAS_TASKSET, here, LOAD_CPU, median, now, percentile, pinning, rssMb, sleep } from './lib.js'

/** Connections each client opens at a time while connecting. */
const CONNECT_CONCURRENCY = 64
export const ROUND_TIMEOUT_MS = 10_000
/** A pause before each round, so one round's aftermath (GC, the clients' reports) is over before the next. */
const PAUSE_MS = 100

/** `count` processes running bench/<script>, on the load cpu (the servers are on the other one). */
export async function startClients(script, count) {
  const clients = []
  for (let i = 0; i < count; i++) {
    const proc = fork(here(script), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    children.push(proc)
    if (HAS_TASKSET) spawnSync('taskset', ['-a', '-p', '-c', LOAD_CPU, String(proc.pid)], { stdio: 'ignore' })
    const waiting = []
    proc.on('message', (m) => {
      const j = waiting.findIndex((w) => w.type === m.type && (w.name === undefined || w.name === m.name))
      if (j !== -1) waiting.splice(j, 1)[0].resolve(m)
    })
    proc.once('exit', (code) => {
      for (const w of waiting.splice(0)) w.reject(new Error(`${script} exited with ${code}`))
    })
    const next = (type, name) => new Promise((resolve, reject) => waiting.push({ type, name, resolve, reject }))
    const ready = next('ready')
    proc.send({ type: 'init', index: i })
    await ready
    clients.push({ proc, next, send: (m) => proc.send(m) })
  }
  return clients
}

/** `pinning` with the clients in wrk's place. */
export const clientsPinning = (count) => pinning.replace('wrk', `${count} client process${count === 1 ? '' : 'es'}`)

/**
 * Sends every client `message` (or `message(i)` for client i) and resolves
 * with their answers, of type `reply` and the message's name.
 */
export function ask(clients, message, reply) {
  return Promise.all(
    clients.map((c, i) => {
      const m = typeof message === 'function' ? message(i) : message
      const answer = c.next(reply, m.name)
      c.send(m)
      return answer
    }),
  )
}

/**
 * Opens `total` connections, spread over the clients (`rest`: url, kind… as
 * the client wants them; `urls`: client i connects to urls[i mod length];
 * `localAddresses`: from that loopback address, so ephemeral ports last); their answers.
 */
export async function connectAll(clients, { name, total, urls, localAddresses, ...rest }) {
  const share = (i) => Math.floor(total / clients.length) + (i < total % clients.length ? 1 : 0)
  const url = (i) => (urls ? { url: urls[i % urls.length] } : {})
  const from = (i) => (localAddresses ? { localAddress: localAddresses[i % localAddresses.length] } : {})
  const replies = await ask(clients, (i) => ({ type: 'connect', name, ...rest, ...url(i), ...from(i), count: share(i), concurrency: CONNECT_CONCURRENCY }), 'connected')
  const opened = replies.reduce((n, r) => n + r.opened, 0)
  if (opened !== total) {
    const error = replies.find((r) => r.error)?.error
    throw new Error(`${name}: ${opened} of ${total} connections opened (${error ?? 'no error reported'})`)
  }
  return replies
}

/** One fan-out: arm the clients with `id`, t0, trigger(id), gather the arrival times. */
export async function round(clients, name, id, trigger) {
  await sleep(PAUSE_MS)
  await ask(clients, { type: 'arm', name, id, timeoutMs: ROUND_TIMEOUT_MS }, 'armed')
  const gathered = Promise.all(clients.map((c) => c.next('times', name)))
  gathered.catch(() => undefined) // a failed trigger throws first; this must not go unhandled meanwhile
  const t0 = now()
  const answer = await trigger(id)
  const answerMs = now() - t0
  const replies = await gathered
  const latencies = []
  let misses = 0
  for (const r of replies) {
    if (r.id !== id) throw new Error(`${name}: times for ${r.id}, expected ${id}`)
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

/** A fan-out system's figures: medians of its rounds, and its memory per connection (from idleMemory). */
export function fanoutFigures(xs, memory) {
  return {
    deliveries_per_s: Math.round(median(xs.map((x) => x.deliveriesPerS))),
    p50_ms: fixed(median(xs.map((x) => x.p50)), 2),
    p99_ms: fixed(median(xs.map((x) => x.p99)), 2),
    first_ms: fixed(median(xs.map((x) => x.firstMs)), 2),
    last_ms: fixed(median(xs.map((x) => x.lastMs)), 2),
    misses: xs.reduce((n, x) => n + x.misses, 0),
    server_kb_per_conn: fixed(memory.kbPerConn, 2),
    server_kb_per_conn_marginal: fixed(memory.marginalKbPerConn, 2),
    heap_kb_per_conn: fixed(memory.heapKbPerConn, 2),
    runs_deliveries_per_s: xs.map((x) => Math.round(x.deliveriesPerS)),
  }
}

/** Asks the clients for their stats, then closes them; what the settings say of them. */
export async function closeClients(clients) {
  const stats = await ask(clients, { type: 'stats' }, 'stats')
  for (const c of clients) c.send({ type: 'close' })
  return {
    client_bytes: stats.reduce((n, s) => n + s.bytes, 0),
    clock_skew_ms: Math.max(...stats.map((s) => Math.abs(s.clockSkewMs))),
  }
}

/**
 * A server's idle memory per connection: RSS (and V8 heap) growth from before
 * connecting `total` to after, each read by `memory()` after a full GC. The
 * first tenth is also measured alone: the growth past it is the cost of one
 * more connection, without a fresh process's one-time growth (heap spaces,
 * the first channel). `connect(n)` opens n more; `label` starts the line
 * written to stderr.
 */
export async function idleMemory(label, total, memory, connect) {
  const first = Math.ceil(total / 10)
  const before = await memory()
  await connect(first)
  await sleep(500)
  const mid = await memory()
  await connect(total - first)
  await sleep(1_000)
  const after = await memory()
  const per = (key, from, n) => (after[key] - from[key]) / 1024 / n
  const mib = (x) => (x / 2 ** 20).toFixed(1)
  process.stderr.write(
    `${label}; after GC, RSS ${[before, mid, after].map((m) => mib(m.rss)).join(' -> ')} MiB, heap ${[before, mid, after].map((m) => mib(m.heap)).join(' -> ')} MiB (none, ${first}, all)\n`,
  )
  return {
    first,
    before,
    mid,
    after,
    kbPerConn: per('rss', before, total),
    marginalKbPerConn: per('rss', mid, total - first),
    heapKbPerConn: per('heap', before, total),
  }
}

/** The settings' memory_after_gc_bytes: name -> the three readings of idleMemory. */
export const memoryReadings = (memory) =>
  Object.fromEntries(Object.entries(memory).map(([k, m]) => [k, { before: m.before, [`after_${m.first}`]: m.mid, after: m.after }]))

const GC = 'HeapProfiler.collectGarbage'
/**
 * Calls `methods` one after the other on a child's inspector; the last one's
 * result. Only the HeapProfiler and Runtime domains are used (no debugger: no deopts).
 */
async function inspect(inspectPort, methods) {
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
    let result
    for (const [i, method] of methods.entries()) result = await call(i + 1, method)
    return result
  } finally {
    ws.close()
  }
}

/**
 * A full GC in a child, through its inspector (roomgate has no GC endpoint):
 * memory is then read with the garbage of the connects gone, alike in every server.
 */
export const collectGarbage = (inspectPort) => inspect(inspectPort, [GC, GC])

/** RSS (from /proc, alike for every server) and V8 heap use of a child after a full GC, in bytes. */
export async function memoryAfterGc(proc, inspectPort) {
  const { usedSize } = await inspect(inspectPort, [GC, GC, 'Runtime.getHeapUsage'])
  return { rss: rssMb(proc.pid) * 2 ** 20, heap: usedSize }
}

