// Helpers for the benchmark: child processes that print their port, wrk runs
// parsed into numbers, medians.
import { spawn, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'

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
const HAS_TASKSET = spawnSync('taskset', ['-c', '0', 'true']).status === 0
export const LOAD_CPU = '0'
export const SERVER_CPU = '1'
function pinned(cpu, cmd, args) {
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
    if (proc.exitCode !== null) return resolve()
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

/** Runs wrk and returns {rps, p50_ms, p99_ms, errors}. */
export function wrk(url, { connections, seconds, headers = {}, script }) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency']
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`)
  if (script) args.push('-s', script)
  args.push(url)
  const [cmd, argv] = pinned(LOAD_CPU, 'wrk', args)
  const r = spawnSync(cmd, argv, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr || r.stdout}`)
  const out = r.stdout
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1])
  const p50 = ms(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '')
  const p99 = ms(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '')
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0)
  const socketErrors = /Socket errors: (.*)/.exec(out)?.[1]
  return { rps, p50_ms: p50, p99_ms: p99, non2xx, socketErrors }
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
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
export function wrkAsync(url, { connections, seconds, headers = {}, script }) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency']
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`)
  if (script) args.push('-s', script)
  args.push(url)
  const [cmd, argv] = pinned(LOAD_CPU, 'wrk', args)
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    proc.stdout.on('data', (d) => (out += d))
    proc.stderr.on('data', (d) => (err += d))
    proc.once('error', reject)
    proc.once('close', (code) => (code === 0 ? resolve(parseWrk(out)) : reject(new Error(`wrk failed: ${err || out}`))))
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
