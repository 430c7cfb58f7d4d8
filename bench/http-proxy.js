// Scenario http-proxy: requests through each proxy to one Node upstream,
// driven by wrk; medians of several short rounds and paired per-round ratios.
// Systems: `direct` (no proxy), roomgate (auth and rate limit on, limits far
// above the load) and the peers of proxies.js. Three kinds of request, each its own scenario in the
// results: a small JSON GET, a 16 KiB POST and a 1 MiB GET; during the 1 MiB
// runs roomgate's RSS is sampled to show the answer is streamed, not buffered.
// A peer that is not installed or does not start is reported as missing.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  fixed, here, median, otherBenchRuns, pairedRatio, pinning, rssMb, runRounds, sampleRss, stop, wrkAsync,
} from './lib.js'
import { startProxies } from './proxies.js'

/** Table order; `against` are the peers every system is compared with. */
export const SYSTEMS = ['direct', 'roomgate', 'nginx', 'haproxy', '@fastify/http-proxy', 'http-proxy', 'node-naive']
const AGAINST = ['@fastify/http-proxy', 'nginx', 'node-naive']
/** Seconds each system is loaded alone, per kind, before the first measured round (JIT, pools, keep-alive sockets). */
const WARMUP_SECONDS = 2

export const KINDS = [
  { scenario: 'http-proxy', label: 'GET, small JSON answer', path: '/v1/measurement/items?id=1' },
  {
    scenario: 'http-proxy-post-16k',
    label: 'POST of a 16 KiB JSON body (read in full by the upstream), small JSON answer',
    path: '/v1/measurement/items?id=1',
    script: here('./servers/post-16k.lua'),
  },
  { scenario: 'http-proxy-get-1m', label: 'GET, 1 MiB answer', path: '/v1/measurement/blob-1m', rss: true },
]

function version(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  return r.status === 0 ? `${r.stdout}${r.stderr}`.split('\n')[0].trim() : undefined
}

export async function httpProxyScenario({ rounds, seconds, connections, quick = false }) {
  const began = performance.now()
  const procs = []
  const prefix = mkdtempSync(join(tmpdir(), 'roomgate-bench-'))
  try {
    const { bases, missing, procs: proxies, pids } = await startProxies({
      prefix,
      names: SYSTEMS.filter((s) => s !== 'direct' && s !== 'roomgate'),
      readyPath: KINDS[0].path,
    })
    procs.push(...proxies)
    const rssAtReady = rssMb(pids.roomgate)
    for (const [name, why] of Object.entries(missing)) process.stderr.write(`http-proxy: ${name} is missing: ${why}\n`)

    const running = SYSTEMS.filter((s) => bases[s] !== undefined)
    const headers = { authorization: 'Bearer bench-token' }
    // Another benchmark running at the same time skews every figure: noted
    // (settings.contended_by) and printed, never hidden.
    const contendedBy = new Set()
    /** "<scenario> <peer>" -> wrk's socket errors line, for peers only. */
    const socketErrors = {}
    const run = async (name, kind, secs, warmup = false) => {
      for (let attempt = 1; ; attempt++) {
        for (const cmd of otherBenchRuns()) contendedBy.add(cmd)
        const result = await wrkAsync(`${bases[name]}${kind.path}`, { connections, seconds: secs, headers, script: kind.script })
        // roomgate must answer everything; a peer's socket errors (one wrk timeout
        // of http-proxy on the 1 MiB GET ended a whole run once) are reported beside its figures.
        if (result.non2xx > 0 || (result.socketErrors && !warmup && name === 'roomgate')) {
          throw new Error(`${kind.scenario} ${name}: ${result.non2xx} non-2xx answers, socket errors: ${result.socketErrors ?? 'none'}`)
        }
        if (result.socketErrors && !warmup) socketErrors[`${kind.scenario} ${name}`] = result.socketErrors
        // Not one answer in the whole run (seen once while another benchmark
        // loaded the machine): retried once, then an error, never a 0 figure.
        if (result.rps > 0 || warmup) return result
        if (attempt === 2) throw new Error(`${kind.scenario} ${name}: no answer in ${secs} s, twice`)
        process.stderr.write(`${kind.scenario} ${name}: no answer in ${secs} s, running again\n`)
      }
    }

    const kinds = []
    for (const [k, kind] of KINDS.entries()) {
      // A quick run gives the two bigger kinds half the time (at least 1 s), to
      // stay near a minute in all; the small GET carries the targets.
      const secs = quick && k > 0 ? Math.max(1, Math.floor(seconds / 2)) : seconds
      // roomgate and the Node peers (each pid is the proxy itself): their RSS is sampled during the 1 MiB runs.
      const rss = kind.rss ? Object.fromEntries(Object.entries(pids).map(([n, pid]) => [n, sampleRss(pid, 200)])) : undefined
      // Warm-up (JIT on this kind's path, pools, keep-alive sockets): each
      // system alone under the same load, quick or not (a cold process gave
      // roomgate a sixth of its warm rate in a first round). Only wrong answers
      // count here: timeouts do not.
      for (const name of running) await run(name, kind, WARMUP_SECONDS, true)

      const samples = await runRounds(running, rounds, (name) => run(name, kind, secs), (x) => `${Math.round(x.rps)} req/s`, `${kind.scenario} `)

      const figures = {}
      for (const name of SYSTEMS) {
        const runs = samples[name]
        if (!runs) {
          figures[name] = { missing: true }
          continue
        }
        figures[name] = {
          rps: Math.round(median(runs.map((x) => x.rps))),
          p50_ms: fixed(median(runs.map((x) => x.p50_ms)), 3),
          p99_ms: fixed(median(runs.map((x) => x.p99_ms)), 3),
        }
      }
      let rssSamples
      if (rss) {
        for (const [name, sampler] of Object.entries(rss)) {
          const m = sampler.stop()
          if (name === 'roomgate') rssSamples = m.samples
          Object.assign(figures[name], {
            rss_mb_start: fixed(m.start_mb, 1),
            rss_mb_max: fixed(m.max_mb, 1),
            rss_mb_end: fixed(m.end_mb, 1),
          })
        }
      }
      // Paired ratios: each round runs every system back to back, so the median
      // of the per-round ratios cancels the machine's drift better than a ratio
      // of medians; beside it the lowest and highest round. null when either
      // side is missing.
      const against = (f) =>
        Object.fromEntries(
          AGAINST.map((peerName) => [
            peerName,
            Object.fromEntries(SYSTEMS.map((name) => [name, samples[name] && samples[peerName] ? f(samples[name], samples[peerName]) : null])),
          ]),
        )
      const paired = against((xs, ys) => fixed(pairedRatio(xs, ys, (x) => x.rps), 2))
      const range = against((xs, ys) => {
        const r = xs.map((x, i) => x.rps / ys[i].rps)
        return [fixed(Math.min(...r), 2), fixed(Math.max(...r), 2)]
      })
      kinds.push({
        scenario: kind.scenario,
        label: kind.label,
        seconds: secs,
        figures,
        ratios: { against: AGAINST, paired_median: paired, paired_range: range },
        ...(rss ? { rss_samples: rssSamples } : {}),
      })
    }

    return {
      kinds,
      settings: {
        rounds,
        seconds,
        connections,
        warmup: `${WARMUP_SECONDS} s per system and kind, alone`,
        pinning,
        missing,
        versions: {
          node: process.version,
          nginx: version('nginx', ['-v']),
          haproxy: version('haproxy', ['-v']),
        },
        roomgate_rss_mb_at_ready: fixed(rssAtReady, 1),
        contended_by: [...contendedBy],
        socket_errors: socketErrors,
        elapsed_s: Math.round((performance.now() - began) / 1000),
      },
    }
  } finally {
    await Promise.all(procs.map(stop))
    rmSync(prefix, { recursive: true, force: true })
  }
}
