// Scenario ws-fanout: one broadcast reaching 5,000 WebSocket clients, spread
// over 4 client processes (bench/ws-client.js) on the load cpu; the servers are
// on the other one. Systems:
// - roomgate: clients connect to /ws?device_id=…; the broadcast is POST
//   /internal/broadcast {"event":"tick","data":{"seq":N},"targets":{"all":true}}
//   (memory engine);
// - ws: a plain `ws` server loop sending one pre-serialised frame to every
//   client (bench/servers/ws-fanout.js): the floor on this machine;
// - roomgate-nohistory: the same with `realtime.history.size: 0` (no stream
//   offsets, nothing kept for recover): what history costs;
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
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { closeAgent, cpuProf, FD_RESERVE, fdLimit, fixed, freePort, here, http, isMain, median, notInstalled, pairedRatio, printResult, runRounds, startProcess, startRoomgate, stop } from './lib.js'
import { closeClients, clientsPinning, connectAll, fanoutFigures, idleMemory, memoryAfterGc, memoryReadings, round, ROUND_TIMEOUT_MS, startClients } from './clients.js'

const CLIENTS = 4
const WARMUP_ROUNDS = 2
/** No ping round during the run, in any system (roomgate's, socket.io's; the ws floor has none). */
const DAY_MS = 86_400_000
const TOKEN = 'bench-internal-token'
export const TARGETS = { 'socket.io': 2, ws: 1, 'roomgate-nohistory': 0.9, server_kb_per_conn: 10 }

/** The npm peers bench/setup.sh could not install (bench/peers/missing.txt), plus any that do not resolve. */
export function missingPeers(names) {
  const listed = notInstalled()
  const peers = createRequire(here('./peers/package.json'))
  return names.filter((n) => {
    if (listed.has(n)) return true
    try {
      peers.resolve(n)
      return false
    } catch {
      return true
    }
  })
}

/** roomgate for a fan-out (`connections`: what a broadcast must reach); `env`: REDIS_URL for several instances, `tag` names its config file. */
export async function startWsRoomgate(connections, nodeFlags, historySize, { env = {}, tag = '' } = {}) {
  const realtime = historySize === undefined ? {} : { realtime: { history: { size: historySize } } }
  const { proc, port, base, inspectPort } = await startRoomgate({
    file: join(tmpdir(), `roomgate-bench-ws-fanout-${process.pid}-${historySize ?? 'default'}${tag}.json`),
    // Instances that share the machine with 100,000 clients may count their
    // deliveries after the default second: the answer waits for them all.
    config: { auth: { internalToken: TOKEN }, ws: { pingIntervalMs: DAY_MS, maxConnectionsPerIp: 1_000_000 }, broadcast: { ackTimeoutMs: 15_000 }, ...realtime },
    env,
    nodeFlags,
    inspect: true,
  })
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
export async function startPeer(script, kind, path, connections, nodeFlags) {
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
  const uninstalled = missingPeers(['socket.io', 'socket.io-client'])
  if (uninstalled.length) missing['socket.io'] = `not installed: ${uninstalled.join(', ')} (bench/peers/missing.txt)`
  const systemsWanted = ['roomgate', 'roomgate-nohistory', 'ws', 'socket.io'].filter((s) => !(s in missing))
  // Every server holds `connections` sockets; the clients hold them for every system at once.
  const limit = fdLimit()
  const wanted = connections
  if (limit !== null) connections = Math.min(connections, limit - FD_RESERVE, Math.floor(((limit - FD_RESERVE) * CLIENTS) / systemsWanted.length))
  if (connections < 1) throw new Error(`ws-fanout: ulimit -n is ${limit}, too low for any connection`)
  if (connections < wanted) process.stderr.write(`ws-fanout: ${connections} connections, not ${wanted}: ulimit -n is ${limit}\n`)

  const started = []
  try {
    const servers = {}
    servers.roomgate = await startWsRoomgate(connections, nodeFlags)
    started.push(servers.roomgate.proc)
    servers['roomgate-nohistory'] = await startWsRoomgate(connections, nodeFlags, 0)
    started.push(servers['roomgate-nohistory'].proc)
    const pids = { roomgate: servers.roomgate.proc.pid, 'roomgate-nohistory': servers['roomgate-nohistory'].proc.pid }
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
    const clients = await startClients('./ws-client.js', CLIENTS)
    started.push(...clients.map((c) => c.proc))

    // Idle memory per connection (see idleMemory).
    const memory = {}
    for (const [name, sys] of Object.entries(servers)) {
      const connect = (total) => connectAll(clients, { name, kind: sys.kind, url: sys.url, deviceIds: sys.deviceIds, total })
      memory[name] = await idleMemory(`ws-fanout ${name}: ${connections} connections`, connections, sys.memory, connect)
    }

    let seq = 0
    const run = (name) => round(clients, name, ++seq, (n) => servers[name].trigger(n))
    // Warm-up, not measured: JIT, the kept-alive sockets of the triggers.
    for (let i = 0; i < WARMUP_ROUNDS; i++) for (const name of Object.keys(servers)) await run(name)

    const samples = await runRounds(Object.keys(servers), rounds, run, (x) =>
      `${Math.round(x.deliveriesPerS)} deliveries/s, first ${x.firstMs.toFixed(1)} ms, p50 ${x.p50.toFixed(1)} ms, p99 ${x.p99.toFixed(1)} ms, last ${x.lastMs.toFixed(1)} ms, answer ${x.answerMs.toFixed(1)} ms${x.answer?.ms === undefined ? '' : ` (server loop ${x.answer.ms.toFixed(1)} ms)`}${x.misses ? `, ${x.misses} missed` : ''}`,
    )
    const clientSettings = await closeClients(clients)

    const figures = {}
    for (const [name, xs] of Object.entries(samples)) {
      figures[name] = fanoutFigures(xs, memory[name])
      // From t0 to the trigger's answer: roomgate answers once its loop has handed the frame to every socket, the peers just after.
      figures[name].answer_ms = fixed(median(xs.map((x) => x.answerMs)), 2)
      // How long the peer's loop took to hand the frame to every socket (roomgate does not say).
      if (xs[0].answer?.ms !== undefined) figures[name].server_loop_ms = fixed(median(xs.map((x) => x.answer.ms)), 2)
    }
    for (const name of Object.keys(missing)) figures[name] = { missing: true }
    // roomgate / peer. Paired: each round runs every system back to back, so the median of
    // per-round ratios shrugs off drift. null when the peer is missing.
    const paired = (peer, f) => (samples[peer] ? fixed(pairedRatio(samples.roomgate, samples[peer], f), 2) : null)
    const peers = ['ws', 'socket.io', 'roomgate-nohistory']
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
          roomgate: Buffer.byteLength(JSON.stringify({ type: 'event', event: 'tick', data: { seq }, stream: 'all', offset: seq })),
          'roomgate-nohistory': Buffer.byteLength(JSON.stringify({ type: 'event', event: 'tick', data: { seq } })),
          ws: Buffer.byteLength(JSON.stringify({ type: 'event', event: 'tick', data: { seq } })),
          'socket.io': Buffer.byteLength(`42${JSON.stringify(['tick', { seq }])}`),
        },
        warmup_rounds: WARMUP_ROUNDS,
        round_timeout_ms: ROUND_TIMEOUT_MS,
        memory_after_gc_bytes: memoryReadings(memory),
        ...clientSettings,
        pinning: clientsPinning(CLIENTS),
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

if (isMain(import.meta.url)) {
  // Standalone: node bench/ws-fanout.js [--quick] [--cpu-prof | --cpu-prof-all]: profiles the roomgate
  // child (-all: the ws and socket.io servers too) into $TMPDIR/roomgate-ws-prof; settings.pids says whose file is whose.
  const quick = process.argv.includes('--quick')
  const all = process.argv.includes('--cpu-prof-all')
  const prof = all || process.argv.includes('--cpu-prof') ? cpuProf('roomgate-ws-prof') : []
  await printResult(() => wsFanoutScenario({ quick, nodeFlags: prof, peerNodeFlags: all ? prof : [] }))
}
