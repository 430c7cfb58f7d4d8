// Helpers for the benchmark: child processes that print their port, wrk runs
// parsed into numbers, medians.
import { spawn, spawnSync } from 'node:child_process'
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
