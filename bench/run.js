// `npm run bench`: roomgate beside the tools people would use instead, in one
// run on one machine (only ratios from one run mean anything on shared cores).
// Options: --quick (short runs), --only <scenario>, --rounds N, --seconds S, --connections C.
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { children, stop } from './lib.js'
import { httpProxyScenario } from './http-proxy.js'
import { placementScenario } from './placement.js'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
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
const wanted = (name) => values.only === undefined || values.only === name

const setup = spawnSync('bash', [here('./setup.sh')], { stdio: 'inherit' })
if (setup.status !== 0) process.exit(1)

const table = (rows) => rows.map((r) => r.map((c, i) => (i === 0 ? String(c).padEnd(22) : String(c).padStart(i === r.length - 1 ? 26 : 12))).join('')).join('\n')

async function main() {
  const result = { date: new Date().toISOString(), node: process.version, scenarios: {}, ratios: {}, settings: {} }

  if (wanted('http-proxy')) {
    const r = await httpProxyScenario({ rounds, seconds, connections })
    result.scenarios['http-proxy'] = r.figures
    result.ratios['http-proxy'] = r.ratios
    result.settings['http-proxy'] = r.settings
    console.log(`\nhttp-proxy: GET small JSON, ${connections} connections, ${rounds} rounds x ${seconds}s, median; ${r.settings.pinning}`)
    console.log(table([['system', 'req/s', 'p50 ms', 'p99 ms', `vs ${r.ratios.against}`],
      ...Object.entries(r.figures).map(([name, f]) => [name, f.rps, f.p50_ms.toFixed(2), f.p99_ms.toFixed(2), `${r.ratios.paired_median[name].toFixed(2)}x`])]))
  }

  if (wanted('placement')) {
    const r = await placementScenario({ quick: values.quick })
    result.scenarios.placement = r.figures
    result.settings.placement = { rooms: r.rooms, nodes: 12 }
    console.log(`\nplacement: ${r.rooms} new rooms with one user each on 12 nodes, then sticky hits`)
    console.log(table([['engine', 'new/s', 'sticky/s'], ...Object.entries(r.figures).map(([name, f]) => [name, f.ops_per_s, f.sticky_ops_per_s])]))
  }

  mkdirSync(here('./results'), { recursive: true })
  writeFileSync(here('./results/latest.json'), `${JSON.stringify(result, null, 2)}\n`)
  console.log('\nwritten to bench/results/latest.json')
}

main()
  .catch((err) => {
    console.error(err.message)
    process.exitCode = 1
  })
  .finally(() => Promise.all(children.map(stop)))
