// Scenario http-proxy: a small JSON GET through roomgate (auth and rate
// limit on, limits far above the load), @fastify/http-proxy and directly, each
// driven by wrk; medians of several short rounds and paired ratios.
import { fileURLToPath } from 'node:url'
import { freePort, median, pinning, startProcess, wrk } from './lib.js'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))

export async function httpProxyScenario({ rounds, seconds, connections }) {
  const upstream = await startProcess([here('./servers/upstream.js')], {})
  const upstreamUrl = `http://127.0.0.1:${upstream.port}`

  const rgPort = await freePort()
  await startProcess(
    [here('../bin/roomgate.js'), 'start', '--config', here('./roomgate.yaml')],
    { PORT: String(rgPort), MEASUREMENT_URL: upstreamUrl, REDIS_URL: '' },
    `http://127.0.0.1:${rgPort}/readyz`,
  )
  const fastify = await startProcess([here('./servers/fastify-http-proxy.js')], { UPSTREAM: upstreamUrl })

  const systems = {
    direct: `${upstreamUrl}/v1/measurement/items?id=1`,
    roomgate: `http://127.0.0.1:${rgPort}/v1/measurement/items?id=1`,
    '@fastify/http-proxy': `http://127.0.0.1:${fastify.port}/v1/measurement/items?id=1`,
  }
  const headers = { authorization: 'Bearer bench-token' }

  // Warm-up: JIT, pools, keep-alive sockets.
  for (const url of Object.values(systems)) wrk(url, { connections, seconds: 1, headers })

  const samples = Object.fromEntries(Object.keys(systems).map((s) => [s, []]))
  const entries = Object.entries(systems)
  for (let r = 0; r < rounds; r++) {
    const order = entries.map((_, i) => entries[(i + r) % entries.length])
    for (const [name, url] of order) {
      const result = wrk(url, { connections, seconds, headers })
      if (result.non2xx > 0 || result.socketErrors) {
        throw new Error(`${name}: ${result.non2xx} non-2xx answers, socket errors: ${result.socketErrors ?? 'none'}`)
      }
      samples[name].push(result)
      process.stderr.write(`round ${r + 1}/${rounds} ${name}: ${Math.round(result.rps)} req/s\n`)
    }
  }

  const figures = {}
  for (const [name, runs] of Object.entries(samples)) {
    figures[name] = {
      rps: Math.round(median(runs.map((x) => x.rps))),
      p50_ms: Number(median(runs.map((x) => x.p50_ms)).toFixed(3)),
      p99_ms: Number(median(runs.map((x) => x.p99_ms)).toFixed(3)),
    }
  }
  // Paired ratios: each round runs every system back to back, so the median of
  // the per-round ratios cancels the machine's drift better than a ratio of medians.
  const peer = '@fastify/http-proxy'
  const ratios = Object.fromEntries(
    Object.keys(samples).map((name) => [
      name,
      Number(median(samples[name].map((x, r) => x.rps / samples[peer][r].rps)).toFixed(2)),
    ]),
  )
  return { settings: { rounds, seconds, connections, pinning }, figures, ratios: { against: peer, paired_median: ratios } }
}
