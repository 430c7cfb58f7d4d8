// `npm run bench`: roomgate beside the tools people would use instead, in one
// run on one machine (only ratios from one run mean anything on shared cores).
// Options: --quick (short runs), --only <scenario>, --rounds N, --seconds S, --connections C.
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { children, here, stop } from './lib.js'
import { httpProxyScenario } from './http-proxy.js'
import { jobsScenario } from './jobs.js'
import { placementScenario } from './placement.js'
import { sseFanoutScenario } from './sse-fanout.js'

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

/** Rows as aligned columns: the first left-aligned, the others right-aligned, each as wide as its widest cell. */
const table = (rows) => {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? '').length)))
  return rows.map((r) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i] + 2))).join('')).join('\n')
}

async function main() {
  const result = { date: new Date().toISOString(), node: process.version, scenarios: {}, ratios: {}, settings: {} }
  /** A scenario's figures, ratios and settings into the results. */
  const record = (name, { figures, ratios, settings }) => {
    result.scenarios[name] = figures
    result.ratios[name] = ratios
    result.settings[name] = settings
  }

  if (wanted('http-proxy')) {
    // Three kinds of request x six systems per round: its own round count
    // (quick 2 x 2 s, full 5 x 4 s) keeps --quick near a minute.
    const hpRounds = Number(values.rounds ?? (values.quick ? 2 : 5))
    const r = await httpProxyScenario({ rounds: hpRounds, seconds, connections, quick: values.quick })
    const s = r.settings
    const x = (v) => (v === null ? '-' : `${v.toFixed(2)}x`)
    for (const k of r.kinds) {
      record(k.scenario, { ...k, settings: { ...s, request: k.label } })
      const peers = k.ratios.against
      const vs = (p, name) => {
        const m = k.ratios.paired_median[p][name]
        const r = k.ratios.paired_range[p][name]
        return m === null ? '-' : p === name ? '1.00x' : `${x(m)} (${r[0].toFixed(2)}-${r[1].toFixed(2)})`
      }
      console.log(`\n${k.scenario}: ${k.label}; ${connections} connections, ${hpRounds} rounds x ${k.seconds}s, median; ${s.pinning}`)
      console.log(table([['system', 'req/s', 'p50 ms', 'p99 ms', ...peers.map((p) => `vs ${p.split('/')[0]}`)],
        ...Object.entries(k.figures).map(([name, f]) => (f.missing ? [name, 'missing', '', '', ...peers.map(() => '')]
          : [name, f.rps, f.p50_ms.toFixed(2), f.p99_ms.toFixed(2), ...peers.map((p) => vs(p, name))]))]))
      const rg = k.figures.roomgate
      if (rg.rss_mb_max !== undefined) {
        console.log(`  roomgate RSS over these runs (every 200 ms, ${k.rss_samples} samples): ${rg.rss_mb_start} MiB at start, ${rg.rss_mb_max} MiB max, ${rg.rss_mb_end} MiB at end (${s.roomgate_rss_mb_at_ready} MiB when ready)`)
        const others = Object.entries(k.figures).filter(([n, f]) => n !== 'roomgate' && f.rss_mb_max !== undefined)
        if (others.length) console.log(`  the same for ${others.map(([n, f]) => `${n}: ${f.rss_mb_start} -> max ${f.rss_mb_max} MiB`).join(', ')}`)
      }
    }
    console.log('  vs: median of per-round ratios of req/s (lowest-highest round); target (small GET): roomgate >= 1.5x @fastify/http-proxy and >= 1.0x node-naive')
    for (const [name, why] of Object.entries(s.missing)) console.log(`  ${name} missing: ${why.split('\n')[0]}`)
    for (const [run, errors] of Object.entries(s.socket_errors)) console.log(`  ${run}: wrk socket errors ${errors}`)
    if (s.contended_by.length) console.log(`  WARNING: another benchmark ran meanwhile, figures are skewed: ${s.contended_by.join('; ')}`)
  }

  if (wanted('http-latency')) {
    const { httpLatencyScenario } = await import('./http-latency.js')
    const r = await httpLatencyScenario({ quick: values.quick, rounds: values.rounds === undefined ? undefined : rounds })
    const s = r.settings
    record('http-latency', r)
    console.log(`\nhttp-latency: small GETs at a fixed rate (open loop, ${s.connections} connections) at 25/50/75 % of nginx's peak (${s.nginx_peak_rps} req/s here) and 50 % of roomgate's (${s.roomgate_peak_rps}), ${s.rounds} rounds x ${s.seconds}s, median; ${s.pinning}`)
    const rows = [['system', 'load', 'rate', 'answered/s', 'p50 ms', 'p99 ms', 'p99.9 ms', '+p50 ms', '+p99 ms', '+p99.9 ms']]
    for (const [name, runs] of Object.entries(r.figures)) {
      if (runs.missing) rows.push([name, 'missing', '', '', '', '', '', '', '', ''])
      else for (const f of runs) rows.push([name, f.load, f.rate, f.achieved_rate + (f.errors ? ` (${f.errors} errors)` : ''), f.p50_ms.toFixed(3), f.p99_ms.toFixed(3), f.p999_ms.toFixed(3), f.added_p50_ms.toFixed(3), f.added_p99_ms.toFixed(3), f.added_p999_ms.toFixed(3)])
    }
    console.log(table(rows))
    const v = r.ratios.roomgate_added_p99_vs_nginx_at_50
    console.log(`  +: added over direct at the same rate (median of per-round differences); direct-again: the client's own noise floor`)
    console.log(`  target: roomgate's added p99 at 50 % <= ${r.ratios.targets.roomgate_added_p99_vs_nginx_at_50}x nginx's: ${v === null ? 'not measured' : `${v.toFixed(2)}x ${r.ratios.meets.roomgate_added_p99_vs_nginx_at_50 ? 'met' : 'MISSED'}`}`)
  }

  if (wanted('placement')) {
    const r = await placementScenario({ quick: values.quick })
    result.scenarios.placement = r.figures
    result.settings.placement = { rooms: r.rooms, nodes: 12 }
    console.log(`\nplacement: ${r.rooms} new rooms with one user each on 12 nodes, then sticky hits`)
    console.log(
      table([
        ['engine', 'new/s', 'sticky/s', '6 pools new/s', '6 pools sticky/s'],
        ...Object.entries(r.figures).map(([name, f]) => [name, f.ops_per_s, f.sticky_ops_per_s, f.six_pools_ops_per_s ?? '-', f.six_pools_sticky_ops_per_s ?? '-']),
      ]),
    )
  }

  if (wanted('ws-connect')) {
    const { wsConnectScenario } = await import('./ws-connect.js')
    const r = await wsConnectScenario({ quick: values.quick, rounds: values.rounds === undefined ? undefined : rounds })
    record('ws-connect', r)
    const s = r.settings
    console.log(`\nws-connect: ${s.connections} new identified WebSocket connections, ${s.in_flight} at a time, median of ${s.rounds} rounds`)
    console.log(table([['identity', 'connects/s', 'vs none'], ...Object.entries(r.figures).map(([name, f]) => [name, f.connects_per_s, `${r.ratios.vs_none[name].toFixed(2)}x`])]))
  }

  if (wanted('jobs')) {
    const r = await jobsScenario({ quick: values.quick })
    if (r.skipped) console.log(`\n${r.skipped}`)
    else {
      const s = r.settings
      record('jobs', r)
      console.log(`\njobs: one cache job over ${s.files} files (${s.big_files}, ${s.small_files}) vs cat on the same files, median of ${s.rounds} rounds`)
      console.log('  every file is in the page cache: this measures the reading path, not the disk; cat-p4 = 4 cats at a time')
      console.log(table([['system', 'MiB/s', `vs ${r.ratios.against}`],
        ...Object.entries(r.figures).map(([name, f]) => [name, f.mb_per_s, `${(f.mb_per_s / r.figures[r.ratios.against].mb_per_s).toFixed(2)}x`])]))
      console.log(`  roomgate by the job's own timestamps (no 50 ms polling): ${r.figures.roomgate.job_mb_per_s} MiB/s; target roomgate >= ${r.ratios.target}x cat`)
    }
  }

  if (wanted('sse-fanout')) {
    const r = await sseFanoutScenario({ quick: values.quick, rounds: values.rounds === undefined ? undefined : rounds })
    const s = r.settings
    record('sse-fanout', r)
    console.log(`\nsse-fanout: one change (${s.frame_bytes}-byte frame) to ${s.subscribers} SSE subscribers on ${s.clients} client processes, median of ${s.rounds} rounds; ${s.pinning}`)
    if (s.subscribers < s.subscribers_wanted) console.log(`  capped from ${s.subscribers_wanted} by ulimit -n ${s.fd_limit}`)
    console.log(table([['system', 'deliveries/s', 'p50 ms', 'p99 ms', 'KiB/conn', 'KiB/conn+', `vs ${r.ratios.against}`],
      ...Object.entries(r.figures).map(([name, f]) => [name, f.deliveries_per_s, f.p50_ms.toFixed(1), f.p99_ms.toFixed(1), f.server_kb_per_conn.toFixed(1),
        f.server_kb_per_conn_marginal.toFixed(1), `${(name === r.ratios.against ? 1 : r.ratios[name]).toFixed(2)}x`])]))
    console.log(`  deliveries/s: subscribers / (last arrival - change sent), vs: paired median; KiB/conn: server RSS growth / subscribers, +: past the first tenth`)
    console.log(`  node-sse writes the frame to every socket in ${r.figures['node-sse'].server_write_ms} ms (median); misses: ${Object.entries(r.figures).map(([n, f]) => `${n} ${f.misses}`).join(', ')}`)
  }

  if (wanted('ws-events')) {
    const { wsEventsScenario } = await import('./ws-events.js')
    const r = await wsEventsScenario({ rounds, seconds, connections })
    const s = r.settings
    record('ws-events', r)
    console.log(`\nws-events: ${s.event} round trips through /ws to a node:http upstream, ${s.connections} connections x ${s.in_flight_per_connection} in flight, ${s.rounds} rounds x ${s.seconds}s, median; ${s.pinning}`)
    console.log(table([['system', 'msgs/s', 'p50 ms', 'p99 ms', `vs ${r.ratios.against}`],
      ...Object.entries(r.figures).map(([name, f]) => [name, f.msgs_per_s, f.p50_ms.toFixed(2), f.p99_ms.toFixed(2), `${(name === r.ratios.against ? 1 : r.ratios[name]).toFixed(2)}x`])]))
    console.log(`  ws: a plain ws server relaying to the same upstream with an undici Pool (the floor); vs: paired median of per-round ratios`)
  }

  if (wanted('ws-fanout')) {
    const { wsFanoutScenario } = await import('./ws-fanout.js')
    const r = await wsFanoutScenario({ quick: values.quick, rounds: values.rounds === undefined ? undefined : rounds })
    const s = r.settings
    const x = r.ratios
    const peers = Object.keys(x.deliveries_per_s)
    const times = (v) => (v === null ? '-' : `${v.toFixed(2)}x`)
    record('ws-fanout', r)
    console.log(`\nws-fanout: one broadcast to ${s.connections} WebSocket clients on ${s.clients} client processes, median of ${s.rounds} rounds; ${s.pinning}`)
    if (s.connections < s.connections_wanted) console.log(`  capped from ${s.connections_wanted} by ulimit -n ${s.fd_limit}`)
    console.log(table([['system', 'deliveries/s', 'p50 ms', 'p99 ms', 'KiB/conn', 'KiB/conn+', ...peers.map((p) => `rg vs ${p}`)],
      ...Object.entries(r.figures).map(([name, f]) => (f.missing ? [name, 'missing', '', '', '', '', ...peers.map(() => '')]
        : [name, f.deliveries_per_s, f.p50_ms.toFixed(1), f.p99_ms.toFixed(1), f.server_kb_per_conn.toFixed(1), f.server_kb_per_conn_marginal.toFixed(1),
          ...peers.map((p) => (name === 'roomgate' ? times(x.deliveries_per_s[p]) : ''))]))]))
    console.log(`  deliveries/s: clients / (last arrival - broadcast sent); rg vs: paired median of roomgate's per-round ratios; KiB/conn: server RSS growth / connections after GC, +: past the first tenth`)
    const verdict = (ok) => (ok === null ? 'not measured' : ok ? 'met' : 'MISSED')
    console.log(`  targets: ${peers.map((p) => `>= ${x.targets[p]}x ${p} ${verdict(x.meets[`deliveries_per_s_vs_${p}`])}`).join(', ')}, <= ${x.targets.server_kb_per_conn} KiB/conn ${verdict(x.meets.server_kb_per_conn)}`)
    const measured = Object.entries(r.figures).filter(([, f]) => !f.missing)
    console.log(`  trigger answered after (median ms): ${measured.map(([n, f]) => `${n} ${f.answer_ms}`).join(', ')}; misses: ${measured.map(([n, f]) => `${n} ${f.misses}`).join(', ')}`)
    for (const [name, why] of Object.entries(s.missing)) console.log(`  ${name} missing: ${why.split('\n')[0]}`)
  }

  if (wanted('ws-fanout-cluster')) {
    const { wsFanoutClusterScenario } = await import('./ws-fanout-cluster.js')
    const r = await wsFanoutClusterScenario({ quick: values.quick, rounds: values.rounds === undefined ? undefined : rounds })
    const s = r.settings
    const x = r.ratios['redis-cluster/redis']
    record('ws-fanout-cluster', r)
    console.log(`\nws-fanout-cluster: one broadcast to all ${s.connections} WebSocket clients, half on each of ${s.instances} instances, sent through the first; one redis-server vs a Redis Cluster (3 masters + 3 replicas), median of ${s.rounds} rounds`)
    console.log(table([['engine', 'deliveries/s', 'p50 ms', 'p99 ms'], ...Object.entries(r.figures).map(([name, f]) => [name, f.deliveries_per_s, f.p50_ms.toFixed(1), f.p99_ms.toFixed(1)])]))
    console.log(`  cluster / one redis, paired median (min-max of rounds): deliveries/s ${x.deliveries_per_s.toFixed(2)}x (${x.deliveries_per_s_range.join('-')}), p99 ${x.p99_ms.toFixed(2)}x (${x.p99_ms_range.join('-')})`)
  }


  if (wanted('recovery-storm')) {
    const { recoveryStormScenario } = await import('./recovery-storm.js')
    const r = await recoveryStormScenario({ quick: values.quick, rounds: values.rounds === undefined ? undefined : rounds })
    const s = r.settings
    record('recovery-storm', r)
    console.log(`\nrecovery-storm: ${s.devices} devices reconnect at once and recover ${s.missed} missed events each; ${s.bystanders} bystanders ping every ${s.ping_every_ms} ms; median of ${s.rounds} rounds`)
    console.log(table([['engine', 'all recovered s', 'p50 ms', 'p99 ms', 'bystander p99 idle', 'during', 'ratio'],
      ...Object.entries(r.figures).map(([name, f]) => [name, f.all_recovered_s, f.recover_p50_ms, f.recover_p99_ms, f.bystander_idle_p99_ms, f.bystander_storm_p99_ms, `${r.ratios.bystander_p99_storm_vs_idle[name].toFixed(2)}x`])]))
    console.log(`  targets (redis): every device recovered within ${r.ratios.targets.redis_all_recovered_s} s ${r.ratios.meets.redis_all_recovered ? 'met' : 'MISSED'}, bystanders' p99 <= ${r.ratios.targets.bystander_p99_storm_vs_idle}x idle ${r.ratios.meets.redis_bystanders ? 'met' : 'MISSED'}`)
  }

  if (wanted('ws-c100k')) {
    const { wsC100kScenario } = await import('./ws-c100k.js')
    const r = await wsC100kScenario({ quick: values.quick, rounds: values.rounds === undefined ? undefined : rounds })
    const s = r.settings
    record('ws-c100k', r)
    console.log(`\nws-c100k: idle identified WebSocket connections and one broadcast to all of them (p50/p99 of its arrival), median of ${s.rounds} rounds; ulimit -n ${s.fd_limit}`)
    console.log(table([['system', 'connections', 'instances', 'connects/s', 'KiB/conn', 'p50 ms', 'p99 ms'],
      ...Object.entries(r.figures).map(([name, f]) => [name, f.connections, f.instances, f.connect_per_s, f.server_kb_per_conn.toFixed(2), f.p50_ms.toFixed(1), f.p99_ms.toFixed(1)])]))
    const m = r.ratios.meets
    console.log(`  targets: <= ${r.ratios.targets.server_kb_per_conn} KiB/conn on one instance ${m.server_kb_per_conn ? 'met' : 'MISSED'}, p99 <= ${r.ratios.targets.cluster_p99_ms} ms across the instances ${m.cluster_p99_ms ? 'met' : 'MISSED'}`)
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
