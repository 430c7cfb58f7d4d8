// Scenario http-latency: the latency a proxy adds at a normal load, not at
// saturation. nginx's peak (wrk, closed loop) is measured first in the same
// run; then an open-loop client (bench/openloop/openloop.c, compiled by
// setup.sh) sends small JSON GETs at 25 %, 50 % and 75 % of that peak to each
// system, counting each request's latency from its scheduled send time
// (coordinated omission corrected: a stall is charged to every request that
// waited behind it). Added latency = the system's percentile minus direct's
// at the same rate in the same round. `direct-again` is the upstream measured
// a second time: its added latency is the client's own noise floor. One more
// rate, half of roomgate's own closed-loop peak, shows what it adds at a load
// it can carry (nginx's 50 % can be above roomgate's peak on one core).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LOAD_CPU, fixed, here, isMain, median, output, pinned, pinning, printResult, stop, wrkAsync } from './lib.js'
import { startProxies } from './proxies.js'

export const SYSTEMS = ['direct', 'direct-again', 'roomgate', 'nginx', '@fastify/http-proxy']
const LOADS = [0.25, 0.5, 0.75]
const PATH = '/v1/measurement/items?id=1'
const HEADERS = { authorization: 'Bearer bench-token' }
const CONNECTIONS = 64
const WARMUP_SECONDS = 2
/** The target: roomgate's added p99 at 50 % of nginx's peak, at most this many times nginx's. */
const TARGET_P99_VS_NGINX = 2

/** One open-loop run: resolves with openloop's JSON line (latencies in µs). */
function openloop(base, { rate, seconds, warmup = 1 }) {
  const { hostname, port } = new URL(base)
  const args = ['--host', hostname, '--port', port, '--path', PATH, '--rate', String(rate), '--seconds', String(seconds),
    '--warmup', String(warmup), '--connections', String(CONNECTIONS)]
  for (const [k, v] of Object.entries(HEADERS)) args.push('--header', `${k}: ${v}`)
  // Errors are counted, not fatal: past its peak a proxy may refuse (503 busy).
  return output('openloop', pinned(LOAD_CPU, here('./peers/openloop'), args)).then((out) => JSON.parse(out))
}

export async function httpLatencyScenario({ quick = false, rounds = quick ? 1 : 3 } = {}) {
  const began = performance.now()
  const seconds = quick ? 3 : 6
  const procs = []
  const prefix = mkdtempSync(join(tmpdir(), 'roomgate-bench-latency-'))
  try {
    const { bases, missing, procs: proxies } = await startProxies({ prefix, names: ['nginx', '@fastify/http-proxy'], readyPath: PATH })
    procs.push(...proxies)
    if (missing.nginx) throw new Error(`http-latency needs nginx for its rates: ${missing.nginx}`)
    bases['direct-again'] = bases.direct
    const running = SYSTEMS.filter((s) => bases[s] !== undefined)

    // Warm every system (JIT, pools), then nginx's closed-loop peak.
    for (const name of running) await wrkAsync(`${bases[name]}${PATH}`, { connections: 50, seconds: WARMUP_SECONDS, headers: HEADERS })
    const peakOf = async (name) => Math.round((await wrkAsync(`${bases[name]}${PATH}`, { connections: 50, seconds: quick ? 3 : 5, headers: HEADERS })).rps)
    const peak = await peakOf('nginx')
    const roomgatePeak = await peakOf('roomgate')
    process.stderr.write(`http-latency: closed-loop peaks: nginx ${peak} req/s, roomgate ${roomgatePeak} req/s\n`)
    const loads = [
      ...LOADS.map((f) => ({ load: `${f * 100}%`, rate: Math.round(f * peak) })),
      { load: '50% of roomgate', rate: Math.round(0.5 * roomgatePeak) },
    ]
    const rates = loads.map((l) => l.rate)

    /** samples[load][name] = one openloop result per round */
    const samples = loads.map(() => Object.fromEntries(running.map((n) => [n, []])))
    for (let r = 0; r < rounds; r++) {
      for (const [i, rate] of rates.entries()) {
        const order = running.map((_, k) => running[(k + r + i) % running.length])
        for (const name of order) {
          const x = await openloop(bases[name], { rate, seconds })
          samples[i][name].push(x)
          process.stderr.write(`http-latency round ${r + 1}/${rounds} ${loads[i].load} (${rate}/s) ${name}: p50 ${x.p50_us} us, p99 ${x.p99_us} us, p99.9 ${x.p999_us} us, ${x.achieved_rate}/s${x.errors ? `, ${x.errors} errors (first: ${x.first_error_status})` : ''}\n`)
        }
      }
    }

    const ms = (us) => fixed(us / 1000, 3)
    const figures = {}
    for (const name of SYSTEMS) {
      if (!bases[name]) {
        figures[name] = { missing: true }
        continue
      }
      figures[name] = loads.map(({ load }, i) => {
        const runs = samples[i][name]
        const direct = samples[i].direct
        // Added latency per round (same rate, same round), then the median.
        const added = (key) => ms(median(runs.map((x, k) => x[key] - direct[k][key])))
        return {
          load,
          rate: rates[i],
          achieved_rate: Math.round(median(runs.map((x) => x.achieved_rate))),
          p50_ms: ms(median(runs.map((x) => x.p50_us))),
          p99_ms: ms(median(runs.map((x) => x.p99_us))),
          p999_ms: ms(median(runs.map((x) => x.p999_us))),
          added_p50_ms: added('p50_us'),
          added_p99_ms: added('p99_us'),
          added_p999_ms: added('p999_us'),
          unfinished: runs.reduce((n, x) => n + x.unfinished, 0),
          errors: runs.reduce((n, x) => n + x.errors, 0),
          ...(runs.some((x) => x.errors) ? { first_error_status: runs.find((x) => x.errors).first_error_status } : {}),
        }
      })
    }
    const half = loads.findIndex((l) => l.load === '50%')
    const rg = figures.roomgate[half]
    const ng = figures.nginx[half]
    const vsNginx = ng.added_p99_ms > 0 ? fixed(rg.added_p99_ms / ng.added_p99_ms, 2) : null
    return {
      figures,
      ratios: {
        roomgate_added_p99_vs_nginx_at_50: vsNginx,
        targets: { roomgate_added_p99_vs_nginx_at_50: TARGET_P99_VS_NGINX },
        meets: { roomgate_added_p99_vs_nginx_at_50: vsNginx === null ? null : vsNginx <= TARGET_P99_VS_NGINX },
      },
      settings: {
        nginx_peak_rps: peak,
        roomgate_peak_rps: roomgatePeak,
        rates,
        rounds,
        seconds,
        connections: CONNECTIONS,
        client: 'bench/openloop (open loop, latency from the scheduled send time)',
        pinning,
        missing,
        elapsed_s: Math.round((performance.now() - began) / 1000),
      },
    }
  } finally {
    await Promise.all(procs.map(stop))
    rmSync(prefix, { recursive: true, force: true })
  }
}

if (isMain(import.meta.url)) await printResult(() => httpLatencyScenario({ quick: process.argv.includes('--quick') }))
