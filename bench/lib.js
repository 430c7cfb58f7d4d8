// Helpers for the benchmark: child processes that print their port, roomgate
// started on a config, wrk runs parsed into numbers, rounds, medians, requests
// on a kept-alive socket.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** A path relative to bench/. */
export const here = (p) => fileURLToPath(new URL(p, import.meta.url))
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
/** Epoch ms with sub-ms precision: compares across processes on one machine. */
export const now = () => performance.timeOrigin + performance.now()
export const fixed = (x, digits) => Number(x.toFixed(digits))

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

/**
 * With two cores, the load generator gets core 0 and the systems under test
 * (with their upstream) core 1, when `taskset` is available: they then compete
 * with each other, not with wrk.
 */
export const HAS_TASKSET = spawnSync('taskset', ['-c', '0', 'true']).status === 0
export const LOAD_CPU = '0'
export const SERVER_CPU = '1'
export function pinned(cpu, cmd, args) {
  return HAS_TASKSET ? ['taskset', ['-c', cpu, cmd, ...args]] : [cmd, args]
}
export const pinning = HAS_TASKSET ? `wrk on cpu ${LOAD_CPU}, servers on cpu ${SERVER_CPU}` : 'not pinned (no taskset)'

/** Every child started here, so a failed run still stops them all. */
export const children = []

/**
 * Starts `node args...` and resolves once it is ready: when `readyUrl` is
 * given, once that URL answers 200; otherwise once it prints `{"port": N}`.
 */
export function startProcess(args, env, readyUrl) {
  const [cmd, argv] = pinned(SERVER_CPU, process.execPath, args)
  const proc = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(proc)
  let stderr = ''
  proc.stderr.on('data', (d) => (stderr += d))
  return new Promise((resolve, reject) => {
    const fail = (why) => {
      clearTimeout(timer)
      reject(new Error(`${args.join(' ')} ${why}:\n${stderr}`))
    }
    const timer = setTimeout(() => fail('did not start in 15 s'), 15_000)
    proc.once('exit', (code) => fail(`exited with ${code}`))
    if (readyUrl) {
      proc.stdout.resume()
      const poll = () =>
        fetch(readyUrl).then(
          (r) => (r.ok ? (clearTimeout(timer), resolve({ proc })) : setTimeout(poll, 100)),
          () => setTimeout(poll, 100),
        )
      poll()
      return
    }
    let out = ''
    proc.stdout.on('data', (d) => {
      out += d
      const line = out.split('\n').find((l) => l.startsWith('{"port"'))
      if (!line) return
      clearTimeout(timer)
      proc.stdout.removeAllListeners('data')
      proc.stdout.resume()
      resolve({ proc, port: JSON.parse(line).port })
    })
  })
}

export function stop(proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve()
    proc.once('exit', resolve)
    proc.kill('SIGTERM')
    setTimeout(() => proc.kill('SIGKILL'), 5_000).unref()
  })
}

const UNITS = { us: 0.001, ms: 1, s: 1000 }
const ms = (text) => {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text)
  return m ? Number(m[1]) * UNITS[m[2]] : NaN
}

function wrkCommand(url, { connections, seconds, headers = {}, script }) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency']
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`)
  if (script) args.push('-s', script)
  args.push(url)
  return pinned(LOAD_CPU, 'wrk', args)
}

/** Runs wrk and returns {rps, p50_ms, p99_ms, non2xx, socketErrors}. */
export function wrk(url, options) {
  const [cmd, argv] = wrkCommand(url, options)
  const r = spawnSync(cmd, argv, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr || r.stdout}`)
  return parseWrk(r.stdout)
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

/** The p-th percentile (nearest rank) of sorted numbers; NaN when there are none. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

/**
 * Median of per-round ratios f(x) / f(y), x and y the same round's results of
 * two systems: each round runs every system back to back, so this shrugs off
 * the machine's drift better than a ratio of medians.
 */
export const pairedRatio = (xs, ys, f) => median(xs.map((x, r) => f(x) / f(ys[r])))

/**
 * `rounds` rounds of `run(name)` for every name, the order rotated each round
 * (a neighbour's burst then lands on every system alike); one line on stderr
 * per run, `describe(result)` after its name. Returns name -> results.
 */
export async function runRounds(names, rounds, run, describe, prefix = '') {
  const samples = Object.fromEntries(names.map((s) => [s, []]))
  for (let r = 0; r < rounds; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length])
    for (const name of order) {
      const x = await run(name)
      samples[name].push(x)
      process.stderr.write(`${prefix}round ${r + 1}/${rounds} ${name}: ${describe(x)}\n`)
    }
  }
  return samples
}

/**
 * Starts any program (nginx, haproxy, ...) pinned on the server CPU like
 * startProcess does for node, and resolves with {proc} once `readyUrl` answers
 * 200. Rejects when the program exits or is not ready within 15 s, with what
 * it wrote on stderr: the caller decides whether that makes a peer missing.
 */
export function startCommand(cmd, args, { env = {}, readyUrl, cwd } = {}) {
  const [bin, argv] = pinned(SERVER_CPU, cmd, args)
  const proc = spawn(bin, argv, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(proc)
  let output = ''
  proc.stdout.on('data', (d) => (output += d))
  proc.stderr.on('data', (d) => (output += d))
  return new Promise((resolve, reject) => {
    let settled = false
    const fail = (why) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      proc.kill('SIGKILL')
      reject(new Error(`${cmd} ${why}${output ? `:\n${output.trim()}` : ''}`))
    }
    const timer = setTimeout(() => fail('did not start in 15 s'), 15_000)
    proc.once('error', (err) => fail(`could not be started (${err.message})`))
    proc.once('exit', (code, signal) => fail(`exited with ${code ?? signal}`))
    const poll = () => {
      if (settled) return
      fetch(readyUrl).then(
        async (r) => {
          await r.arrayBuffer().catch(() => undefined)
          if (!r.ok) return setTimeout(poll, 100)
          if (settled) return
          settled = true
          clearTimeout(timer)
          resolve({ proc })
        },
        () => setTimeout(poll, 100),
      )
    }
    poll()
  })
}

/** Parses wrk --latency output into {rps, p50_ms, p99_ms, non2xx, socketErrors} (as wrk() returns). */
export function parseWrk(out) {
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    p50_ms: ms(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? ''),
    p99_ms: ms(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? ''),
    non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
    socketErrors: /Socket errors: (.*)/.exec(out)?.[1],
  }
}

/**
 * wrk() without blocking the event loop, so timers in this process (an RSS
 * sampler) keep running during the run. Same options and result as wrk().
 */
export function wrkAsync(url, options) {
  return output('wrk', wrkCommand(url, options)).then(parseWrk)
}

/**
 * Runs a load generator ([cmd, argv], as pinned() gives) without blocking the
 * event loop; resolves with its stdout, rejects with what it printed when it
 * exits non-zero (`name` names it).
 */
export function output(name, [cmd, argv]) {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    proc.stdout.on('data', (d) => (out += d))
    proc.stderr.on('data', (d) => (err += d))
    proc.once('error', reject)
    proc.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${name} failed (${code}): ${err || out}`))))
  })
}

/** Resident memory of a process in MiB (VmRSS in /proc/<pid>/status), or NaN when it cannot be read. */
export function rssMb(pid) {
  try {
    const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])
    return kb / 1024
  } catch {
    return NaN
  }
}

/**
 * Samples a process's RSS every `everyMs` until stop(), which returns
 * {start_mb, max_mb, end_mb, samples} (MiB). Needs a free event loop: use wrkAsync meanwhile.
 */
export function sampleRss(pid, everyMs = 200) {
  const start = rssMb(pid)
  let max = start
  let last = start
  let samples = 1
  const timer = setInterval(() => {
    const v = rssMb(pid)
    if (Number.isNaN(v)) return
    samples++
    last = v
    if (!(v <= max)) max = v
  }, everyMs)
  // Never what keeps the process alive (a run that failed may not call stop()).
  timer.unref()
  return {
    stop() {
      clearInterval(timer)
      const v = rssMb(pid)
      if (!Number.isNaN(v)) {
        last = v
        if (!(v <= max)) max = v
      }
      return { start_mb: start, max_mb: max, end_mb: last, samples }
    },
  }
}

/**
 * Other benchmark runs on this machine (command lines of `bench/run.js`
 * processes other than this one): their load skews every figure of a run that
 * overlaps them, so a scenario can report that it was contended.
 */
export function otherBenchRuns() {
  // This run and the processes that started it (npm, sh -c, time) do not count.
  const own = new Set([process.pid])
  for (let pid = process.ppid; pid > 1 && !own.has(pid); ) {
    own.add(pid)
    try {
      pid = Number(/^\d+ \(.*\) \S+ (\d+)/s.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1] ?? 0)
    } catch {
      break
    }
  }
  const found = []
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || own.has(Number(pid))) continue
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ')
      if (/bench\/run\.js/.test(cmd)) found.push(cmd)
    } catch {
      // gone meanwhile
    }
  }
  return found
}

/** Descriptors a server keeps for itself (listener, pipes, inspector, /metrics…) beside its connections. */
export const FD_RESERVE = 256

/** The soft limit on open files the children inherit (null: unlimited). */
export function fdLimit() {
  const out = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim()
  return /^\d+$/.test(out) ? Number(out) : null
}

/** Peers bench/setup.sh could not install (bench/peers/missing.txt). */
export function notInstalled() {
  const file = here('./peers/missing.txt')
  if (!existsSync(file)) return new Set()
  return new Set(readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean))
}

const agent = new Agent({ keepAlive: true })
/** A request on a kept-alive socket (after the first), so t0 is not followed by a connect. Resolves with the body of a 200. */
export function http(url, { method = 'GET', body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const h = body === undefined ? headers : { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), ...headers }
    const req = request(url, { method, agent, headers: h }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (text += d))
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${method} ${url}: ${res.statusCode} ${text}`))))
    })
    req.on('error', reject)
    req.end(body)
  })
}
/** Closes http()'s kept-alive sockets (it opens new ones when called again). */
export const closeAgent = () => agent.destroy()

/**
 * Starts roomgate (`bin/roomgate.js start --config file`) on a free port and
 * resolves once /readyz answers, with {proc, port, base, inspectPort}. With
 * `config`, `file` is first written with it as JSON, over what every scenario
 * wants (loopback, warn logs, rate limits far above the load). `nodeFlags` go
 * to node; `inspect` opens the inspector on a free port (for collectGarbage).
 */
export async function startRoomgate({ file, config, env = {}, nodeFlags = [], inspect = false }) {
  const port = await freePort()
  const inspectPort = inspect ? await freePort() : undefined
  if (config) writeFileSync(file, JSON.stringify({ host: '127.0.0.1', logLevel: 'warn', rateLimit: { rps: 1_000_000_000, burst: 1_000_000_000 }, ...config }))
  const base = `http://127.0.0.1:${port}`
  const { proc } = await startProcess(
    [...nodeFlags, ...(inspect ? [`--inspect=127.0.0.1:${inspectPort}`] : []), here('../bin/roomgate.js'), 'start', '--config', file],
    { PORT: String(port), REDIS_URL: '', ...env },
    `${base}/readyz`,
  )
  return { proc, port, base, inspectPort }
}

/** Whether the module at `url` (its import.meta.url) is the script node was started with. */
export const isMain = (url) => process.argv[1] === fileURLToPath(url)

/** node flags that profile a child into $TMPDIR/<dir>. */
export const cpuProf = (dir) => ['--cpu-prof', `--cpu-prof-dir=${join(tmpdir(), dir)}`]

/** A scenario run as a script: prints its result as JSON, then stops every child. */
export async function printResult(run) {
  try {
    console.log(JSON.stringify(await run(), null, 2))
  } finally {
    await Promise.all(children.map(stop))
  }
}
