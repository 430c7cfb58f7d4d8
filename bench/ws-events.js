// Scenario ws-events: request/response round trips, client -> /ws -> upstream
// `POST /gateway/handle` -> client. The upstream (bench/servers/ws-upstream.js)
// answers `{"ok":true}`; roomgate routes `lobby.*` to it (LOBBY_URL), with
// rate limits and ws.maxInflight far above the load so they cost what they
// cost but never refuse. Beside it, `ws`: a plain ws server relaying to the
// same upstream through an undici Pool (bench/servers/ws-events.js), the floor.
// One client process (bench/ws-client.js) on the load cpu holds `connections`
// connections to each system, each keeping `window` requests in flight
// (pipelined by request_id) for `seconds`; servers and upstream share the
// other cpu. msgs/s = round trips completed in the window / its length;
// p50/p99 of their times. Rounds rotate the order; the ratio is the median of
// per-round ratios.
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { closeAgent, cpuProf, fixed, here, http, isMain, median, pairedRatio, percentile, printResult, runRounds, startProcess, startRoomgate, stop } from './lib.js'
import { ask, clientsPinning, connectAll, startClients } from './clients.js'

const CLIENTS = 1
const EVENT = 'lobby.bench'
/** roomgate's default keep-alive connections per service lane; the floor's Pool gets as many. */
const UPSTREAM_CONNECTIONS = 128
const DAY_MS = 86_400_000
/** How long a run waits for its last requests after the window. */
const DRAIN_MS = 5_000

export async function wsEventsScenario({ rounds, seconds, connections = 50, window = 4, nodeFlags = [] }) {
  const started = []
  try {
    const upstream = await startProcess([here('./servers/ws-upstream.js')], {})
    started.push(upstream.proc)
    const upstreamUrl = `http://127.0.0.1:${upstream.port}`

    const rg = await startRoomgate({
      file: join(tmpdir(), `roomgate-bench-ws-events-${process.pid}.json`),
      config: {
        services: { lobby: { url: upstreamUrl, connections: UPSTREAM_CONNECTIONS } },
        ws: { maxInflight: Math.max(1_024, window * 4), pingIntervalMs: DAY_MS },
      },
      // LOBBY_URL wins over the file (env wins); both name the bench upstream.
      env: { LOBBY_URL: upstreamUrl },
      nodeFlags,
    })
    started.push(rg.proc)
    const floor = await startProcess([here('./servers/ws-events.js')], { UPSTREAM: upstreamUrl, CONNECTIONS: String(UPSTREAM_CONNECTIONS) })
    started.push(floor.proc)
    const clients = await startClients('./ws-client.js', CLIENTS)
    started.push(...clients.map((c) => c.proc))

    const systems = { roomgate: `ws://127.0.0.1:${rg.port}/ws`, ws: `ws://127.0.0.1:${floor.port}/ws` }
    for (const [name, url] of Object.entries(systems)) await connectAll(clients, { name, url, deviceIds: true, total: connections })

    const run = async (name, s) => {
      const replies = await ask(clients, { type: 'events', name, event: EVENT, seconds: s, window, drainMs: DRAIN_MS }, 'events')
      const latencies = replies.flatMap((r) => r.latencies).sort((a, b) => a - b)
      const errors = replies.reduce((n, r) => n + r.errors, 0)
      if (errors > 0) throw new Error(`${name}: ${errors} error answers, e.g. ${replies.find((r) => r.firstError)?.firstError}`)
      const unanswered = replies.reduce((n, r) => n + r.unanswered, 0)
      if (unanswered > 0) throw new Error(`${name}: ${unanswered} requests unanswered ${DRAIN_MS} ms after the run`)
      return {
        msgsPerS: latencies.length / Math.max(...replies.map((r) => r.seconds)),
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        count: latencies.length,
      }
    }

    // Warm-up, not measured: JIT, the upstream pools' connections.
    for (const name of Object.keys(systems)) await run(name, 1)

    const samples = await runRounds(Object.keys(systems), rounds, (name) => run(name, seconds), (x) =>
      `${Math.round(x.msgsPerS)} msgs/s, p50 ${x.p50.toFixed(2)} ms, p99 ${x.p99.toFixed(2)} ms`,
    )
    const upstreamCalls = JSON.parse(await http(`${upstreamUrl}/count`)).calls
    for (const c of clients) c.send({ type: 'close' })

    const figures = {}
    for (const [name, xs] of Object.entries(samples)) {
      figures[name] = {
        msgs_per_s: Math.round(median(xs.map((x) => x.msgsPerS))),
        p50_ms: fixed(median(xs.map((x) => x.p50)), 3),
        p99_ms: fixed(median(xs.map((x) => x.p99)), 3),
        runs_msgs_per_s: xs.map((x) => Math.round(x.msgsPerS)),
      }
    }
    const against = 'ws'
    const paired = (f) => fixed(pairedRatio(samples.roomgate, samples[against], f), 2)
    return {
      figures,
      ratios: { against, roomgate: paired((x) => x.msgsPerS), roomgate_p99: paired((x) => x.p99) },
      settings: {
        rounds,
        seconds,
        connections,
        in_flight_per_connection: window,
        event: EVENT,
        upstream_connections: UPSTREAM_CONNECTIONS,
        upstream_calls: upstreamCalls,
        pinning: clientsPinning(CLIENTS),
        nodeFlags,
      },
    }
  } finally {
    await Promise.all(started.map(stop))
    closeAgent()
  }
}

if (isMain(import.meta.url)) {
  // Standalone: node bench/ws-events.js [--quick] [--cpu-prof] (profiles the roomgate child into $TMPDIR/roomgate-ws-events-prof).
  const quick = process.argv.includes('--quick')
  const nodeFlags = process.argv.includes('--cpu-prof') ? cpuProf('roomgate-ws-events-prof') : []
  await printResult(() => wsEventsScenario({ rounds: quick ? 3 : 7, seconds: quick ? 2 : 4, nodeFlags }))
}
