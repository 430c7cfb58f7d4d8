// `npm run bench`: HTTP requests per second through roomgate's proxy, beside
// the same upstream reached directly and through @fastify/http-proxy, in one
// run on one machine (only the ratios mean anything on shared cores).
// Options: --quick (shorter runs), --rounds N, --seconds S, --connections C.
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { children, freePort, median, pinning, startProcess, stop, wrk } from './lib.js'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    connections: { type: 'string', default: '50' },
  },
})
// Many short rounds, order rotated each round: on shared cores a neighbour's
// burst then lands on every system alike, and the median shrugs it off.
const rounds = Number(values.rounds ?? (values.quick ? 3 : 7))
const seconds = Number(values.seconds ?? (values.quick ? 2 : 4))
const connections = Number(values.connections)

const setup = spawnSync('bash', [here('./setup.sh')], { stdio: 'inherit' })
if (setup.status !== 0) process.exit(1)

async function main() {
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
  console.log(`\nhttp-proxy: GET small JSON, ${connections} connections, ${rounds} rounds × ${seconds}s, median; ${pinning}\n`)
  console.log(`system                 req/s     p50 ms   p99 ms   vs ${peer} (paired)`)
  for (const [name, f] of Object.entries(figures)) {
    console.log(`${name.padEnd(20)} ${String(f.rps).padStart(8)} ${f.p50_ms.toFixed(2).padStart(9)} ${f.p99_ms.toFixed(2).padStart(8)}   ${ratios[name].toFixed(2)}×`)
  }
  mkdirSync(here('./results'), { recursive: true })
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    settings: { rounds, seconds, connections, pinning },
    scenarios: { 'http-proxy': figures },
    ratios: { 'http-proxy': { against: peer, paired_median: ratios } },
  }
  writeFileSync(here('./results/latest.json'), `${JSON.stringify(result, null, 2)}\n`)
  console.log('\nwritten to bench/results/latest.json')
}

main()
  .catch((err) => {
    console.error(err.message)
    process.exitCode = 1
  })
  .finally(() => Promise.all(children.map(stop)))
