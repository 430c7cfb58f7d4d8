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
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { setImmediate } from 'node:timers'
import { join } from 'node:path'
import { closeAgent, cpuProf, FD_RESERVE, fdLimit, fixed, freePort, here, http, isMain, median, pairedRatio, printResult, runRounds, startProcess, startRoomgate, stop } from './lib.js'
import { closeClients, clientsPinning, collectGarbage, connectAll, fanoutFigures, idleMemory, memoryReadings, round, ROUND_TIMEOUT_MS, startClients } from './clients.js'

const SLUG = 'bench'
const UNITS = 50
const CLIENTS = 4
const WARMUP_ROUNDS = 3
/** The longest period roomgate accepts: no poll, cache expiry or ping during the rounds. */
const DAY = 86_400
const MAPPING = { available: ['open'], reserved: ['hold'] }
const STANDARD = { open: 'available', hold: 'reserved' }

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

const metric = (text, name) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+(\\S+)`, 'm').exec(text)?.[1])

async function startSseRoomgate(apiUrl, subscribers, nodeFlags) {
  const { proc, base, inspectPort } = await startRoomgate({
    file: join(tmpdir(), `roomgate-bench-sse-${process.pid}.json`),
    config: {
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
    },
    nodeFlags,
    inspect: true,
  })
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
    const rg = await startSseRoomgate(apiUrl, subscribers, nodeFlags)
    started.push(rg.proc)
    const ns = await startNodeSse()
    started.push(ns.proc)
    const clients = await startClients('./sse-client.js', CLIENTS)
    started.push(...clients.map((c) => c.proc))

    // Idle memory per subscriber (see idleMemory); every subscriber must get the same snapshot.
    const memory = {}
    const versions = {}
    for (const [name, sys] of [['roomgate', rg], ['node-sse', ns]]) {
      const ids = []
      const connect = async (total) => {
        for (const r of await connectAll(clients, { name, url: sys.streamUrl, total })) ids.push(r.minId, r.maxId)
        if (Math.min(...ids) !== Math.max(...ids)) throw new Error(`${name}: subscribers got snapshots ${ids}, not one version`)
      }
      memory[name] = await idleMemory(`sse-fanout ${name}: ${subscribers} subscribers`, subscribers, sys.memory, connect)
      versions[name] = ids[0]
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

    const samples = await runRounds(Object.keys(systems), rounds, (name) => systems[name](), (x) =>
      `${Math.round(x.deliveriesPerS)} deliveries/s, first ${x.firstMs.toFixed(1)} ms, p50 ${x.p50.toFixed(1)} ms, p99 ${x.p99.toFixed(1)} ms, last ${x.lastMs.toFixed(1)} ms${x.answer?.ms === undefined ? '' : ` (server loop ${x.answer.ms.toFixed(1)} ms)`}${x.misses ? `, ${x.misses} missed` : ''}`,
    )
    const clientSettings = await closeClients(clients)

    const figures = Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, fanoutFigures(xs, memory[name])]))
    // How long node-sse takes to write the frame to every socket: the rest of its last_ms is the clients' reading.
    figures['node-sse'].server_write_ms = fixed(median(samples['node-sse'].map((x) => x.answer.ms)), 2)
    const against = 'node-sse'
    const paired = (f) => fixed(pairedRatio(samples.roomgate, samples[against], f), 2)
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
        memory_after_gc_bytes: memoryReadings(memory),
        ...clientSettings,
        pinning: clientsPinning(CLIENTS),
        nodeFlags,
      },
    }
  } finally {
    await Promise.all(started.map(stop))
    await api.close()
    closeAgent()
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

if (isMain(import.meta.url)) {
  // Standalone: node bench/sse-fanout.js [--quick] [--cpu-prof] (profiles the roomgate child into $TMPDIR/roomgate-sse-prof).
  if (process.argv[2] === 'node-sse-server') nodeSseServer()
  else {
    const quick = process.argv.includes('--quick')
    await printResult(() => sseFanoutScenario({ quick, nodeFlags: process.argv.includes('--cpu-prof') ? cpuProf('roomgate-sse-prof') : [] }))
  }
}
