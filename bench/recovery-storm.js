// Scenario recovery-storm: the mass reconnect after an instance restart. 1,000
// devices learn their `all` position, leave, miss 100 broadcasts to `all`, and
// reconnect at once, each recovering since its position (bench/recovery-client.js):
// the time from the storm's start to each device's recover answer (all 100
// replayed before it, checked), per engine (memory; a private redis-server).
// Meanwhile 100 bystander connections (another client process) send `ping`
// every 100 ms: their round-trip p99 during the storm against the 2 s before
// it shows what the storm costs everyone else. Target: on Redis every device
// recovered within 5 s, bystanders' p99 at most 2x their idle p99.
import { fork, spawn, spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { children, fixed, freePort, HAS_TASKSET, here, http, isMain, LOAD_CPU, median, percentile, printResult, sleep, startRoomgate, stop } from './lib.js'

const TOKEN = 'bench-internal-token'
const DAY_MS = 86_400_000
const MISSED = 100
const STORM_TIMEOUT_MS = 60_000
const BYSTANDERS = 100
const PING_EVERY_MS = 100
const IDLE_MS = 2_000

function client() {
  const proc = fork(here('./recovery-client.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.push(proc)
  if (HAS_TASKSET) spawnSync('taskset', ['-a', '-p', '-c', LOAD_CPU, String(proc.pid)], { stdio: 'ignore' })
  const ask = (message, reply = message.type) =>
    new Promise((resolve, reject) => {
      const on = (m) => {
        if (m.type !== reply) return
        proc.off('message', on)
        if (m.error) reject(new Error(`${reply}: ${m.error}`))
        else resolve(m)
      }
      proc.on('message', on)
      proc.once('exit', (code) => reject(new Error(`recovery-client exited with ${code}`)))
      proc.send(message)
    })
  return { proc, ask, ready: new Promise((resolve) => proc.once('message', resolve)) }
}

async function startRedis() {
  const port = await freePort()
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir()], { stdio: 'ignore' })
  children.push(proc)
  for (let i = 0; i < 50; i++) {
    if (spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG') break
    await sleep(100)
  }
  return { url: `redis://127.0.0.1:${port}`, proc }
}

async function stormOn(engine, devices) {
  const redis = engine === 'redis' ? await startRedis() : undefined
  const gate = await startRoomgate({
    file: join(tmpdir(), `roomgate-bench-recovery-${engine}-${process.pid}.json`),
    config: { auth: { internalToken: TOKEN }, ws: { pingIntervalMs: DAY_MS, maxConnectionsPerIp: 1_000_000 } },
    env: redis ? { REDIS_URL: redis.url } : {},
  })
  const stormer = client()
  const bystander = client()
  try {
    await Promise.all([stormer.ready, bystander.ready])
    const ws = `ws://127.0.0.1:${gate.port}/ws`
    await stormer.ask({ type: 'positions', url: ws, count: devices })
    for (let seq = 1; seq <= MISSED; seq++) {
      const body = JSON.stringify({ event: 'tick', data: { seq }, targets: { all: true } })
      await http(`${gate.base}/internal/broadcast`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-internal-token': TOKEN } })
    }
    await bystander.ask({ type: 'bystand', url: ws, count: BYSTANDERS, everyMs: PING_EVERY_MS }, 'bystanding')
    await sleep(IDLE_MS)
    const stormAt = performance.timeOrigin + performance.now()
    const storm = await stormer.ask({ type: 'storm', missed: MISSED, timeoutMs: STORM_TIMEOUT_MS })
    const stormEnd = stormAt + storm.seconds * 1000
    const { samples } = await bystander.ask({ type: 'report' }, 'bystood')
    if (storm.wrong > 0) throw new Error(`${engine}: ${storm.wrong} devices did not recover every missed event, e.g. ${storm.firstWrong}`)
    const times = storm.times.sort((a, b) => a - b)
    const idle = samples.filter(([at]) => at >= stormAt - IDLE_MS && at < stormAt).map(([, ms]) => ms).sort((a, b) => a - b)
    const during = samples.filter(([at]) => at >= stormAt && at <= stormEnd).map(([, ms]) => ms).sort((a, b) => a - b)
    return {
      devices,
      missed: MISSED,
      all_recovered_s: fixed(storm.seconds, 2),
      recover_p50_ms: fixed(percentile(times, 50), 1),
      recover_p99_ms: fixed(percentile(times, 99), 1),
      bystander_idle_p99_ms: fixed(percentile(idle, 99), 2),
      bystander_storm_p99_ms: during.length ? fixed(percentile(during, 99), 2) : null,
      bystander_storm_pings: during.length,
    }
  } finally {
    for (const c of [stormer, bystander]) c.proc.kill()
    await stop(gate.proc)
    redis?.proc.kill('SIGKILL')
  }
}

export async function recoveryStormScenario({ quick, rounds = quick ? 1 : 3, devices = 1_000 }) {
  const runs = { memory: [], redis: [] }
  for (let r = 0; r < rounds; r++) {
    for (const engine of r % 2 === 0 ? ['memory', 'redis'] : ['redis', 'memory']) {
      const x = await stormOn(engine, devices)
      process.stderr.write(`round ${r + 1}/${rounds} ${engine}: all recovered in ${x.all_recovered_s} s (p50 ${x.recover_p50_ms} ms, p99 ${x.recover_p99_ms} ms); bystanders p99 ${x.bystander_idle_p99_ms} ms idle, ${x.bystander_storm_p99_ms} ms during\n`)
      runs[engine].push(x)
    }
  }
  const figures = Object.fromEntries(
    Object.entries(runs).map(([engine, xs]) => {
      const m = (k) => median(xs.map((x) => x[k]).filter((v) => v !== null))
      return [
        engine,
        {
          all_recovered_s: fixed(m('all_recovered_s'), 2),
          recover_p50_ms: fixed(m('recover_p50_ms'), 1),
          recover_p99_ms: fixed(m('recover_p99_ms'), 1),
          bystander_idle_p99_ms: fixed(m('bystander_idle_p99_ms'), 2),
          bystander_storm_p99_ms: fixed(m('bystander_storm_p99_ms'), 2),
        },
      ]
    }),
  )
  const redis = figures.redis
  const ratios = {
    bystander_p99_storm_vs_idle: Object.fromEntries(Object.entries(figures).map(([e, f]) => [e, fixed(f.bystander_storm_p99_ms / f.bystander_idle_p99_ms, 2)])),
    targets: { redis_all_recovered_s: 5, bystander_p99_storm_vs_idle: 2 },
    meets: { redis_all_recovered: redis.all_recovered_s <= 5, redis_bystanders: redis.bystander_storm_p99_ms <= 2 * redis.bystander_idle_p99_ms },
  }
  return { figures, ratios, settings: { rounds, devices, missed: MISSED, bystanders: BYSTANDERS, ping_every_ms: PING_EVERY_MS } }
}

if (isMain(import.meta.url)) {
  const quick = process.argv.includes('--quick')
  await printResult(() => recoveryStormScenario({ quick }))
}
