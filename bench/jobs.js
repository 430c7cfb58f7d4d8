// Scenario jobs: the cache-job worker's read throughput on a few GB of files,
// against `cat FILES > /dev/null` on the same files (the physical limit), once
// as one `cat` and once as four in parallel (`xargs -P 4`, like the worker's
// concurrency 4). The files are in the page cache for every run (written just
// before, or read once before the rounds), so this measures the reading path,
// not the disk. Rounds alternate the systems; medians of MiB/s.
import { spawn, spawnSync } from 'node:child_process'
import { randomFillSync } from 'node:crypto'
import { closeSync, mkdirSync, openSync, readdirSync, rmSync, statfsSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { fixed, HAS_TASKSET, isMain, median, runRounds, sleep, startRoomgate, stop } from './lib.js'

const MiB = 1024 * 1024
const BIG = 128 * MiB
const SMALL = 64 * 1024
const API_KEY = 'bench'
const POLL_MS = 50
/** Room left on the disk after the data set is written. */
const DISK_MARGIN = 512 * MiB
/** The data set must fit the page cache comfortably, or cat and the worker would measure the disk. */
const MEMORY_SHARE = 0.5
const BASE = join(tmpdir(), 'roomgate-bench-jobs')

const ALL_CPUS = HAS_TASKSET ? `0-${cpus().length - 1}` : undefined

const mibps = (bytes, seconds) => bytes / MiB / seconds
const gib = (bytes) => `${(bytes / 1024 / MiB).toFixed(2)} GiB`

/** Bytes of the files under `dir` that already have the size the plan wants. */
function existing(dir, names, size) {
  let bytes = 0
  for (const name of names) {
    try {
      if (statSync(join(dir, name)).size === size) bytes += size
    } catch {
      // missing: written later
    }
  }
  return bytes
}

const bigNames = (n) => Array.from({ length: n }, (_, i) => `big-${String(i).padStart(3, '0')}.bin`)
const smallNames = (n) => Array.from({ length: n }, (_, i) => `small-${String(i).padStart(4, '0')}.bin`)

/**
 * The data set under os.tmpdir(): `big` files of 128 MiB and `small` files of
 * 64 KiB, kept between runs (only missing or wrong-sized files are written,
 * files not in the plan are removed). Shrinks the number of big files when
 * the disk or the memory is short; returns null with the reason when even one
 * does not fit.
 */
function dataSet(quick) {
  const dir = join(BASE, quick ? 'quick' : 'full')
  mkdirSync(join(dir, 'big'), { recursive: true })
  mkdirSync(join(dir, 'small'), { recursive: true })
  const want = quick ? { big: 8, small: 1000 } : { big: 24, small: 2000 }
  const smallBytes = want.small * SMALL
  const haveBytes = existing(join(dir, 'big'), bigNames(want.big), BIG) + existing(join(dir, 'small'), smallNames(want.small), SMALL)
  const fs = statfsSync(BASE)
  const free = fs.bavail * fs.bsize
  const byDisk = Math.floor((haveBytes + free - DISK_MARGIN - smallBytes) / BIG)
  const byMemory = Math.floor((totalmem() * MEMORY_SHARE - smallBytes) / BIG)
  const big = Math.min(want.big, byDisk, byMemory)
  const notes = []
  if (big < want.big) {
    notes.push(
      `data set shrunk to ${big} x 128 MiB (wanted ${want.big}): ${gib(free)} free on ${BASE}, ${gib(totalmem())} of memory`,
    )
  }
  if (big < 1) return { skipped: `jobs: skipped, not even one 128 MiB file fits (${gib(free)} free on ${BASE}, ${gib(totalmem())} of memory)` }
  const plan = { big: bigNames(big), small: smallNames(want.small) }

  let written = 0
  const buffer = Buffer.allocUnsafe(16 * MiB)
  randomFillSync(buffer)
  for (const [sub, names, size] of [['big', plan.big, BIG], ['small', plan.small, SMALL]]) {
    const keep = new Set(names)
    for (const name of readdirSync(join(dir, sub))) if (!keep.has(name)) rmSync(join(dir, sub, name), { force: true })
    for (const [i, name] of names.entries()) {
      const file = join(dir, sub, name)
      if (existing(join(dir, sub), [name], size) === size) continue
      if (size < buffer.length) {
        buffer.writeUInt32LE(i, 0)
        writeFileSync(file, buffer.subarray(0, size))
      } else {
        const fd = openSync(file, 'w')
        try {
          for (let at = 0; at < size; at += buffer.length) {
            // Every chunk different, so nothing downstream could take a shortcut on repeated data.
            buffer.writeUInt32LE(i, 0)
            buffer.writeUInt32LE(at / buffer.length, 4)
            writeSync(fd, buffer, 0, Math.min(buffer.length, size - at))
          }
        } finally {
          closeSync(fd)
        }
      }
      written += size
    }
  }
  // Written pages go to the disk now, not in the background during the rounds (they stay cached).
  if (written > 0) spawnSync('sync')
  const bytes = plan.big.length * BIG + plan.small.length * SMALL
  return { dir, files: plan.big.length + plan.small.length, big: plan.big.length, small: plan.small.length, bytes, written, notes }
}

/** Runs a shell command over the data set; resolves with its wall time in seconds. */
function shell(script, dir) {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const proc = spawn('sh', ['-c', script, 'sh', dir], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    proc.stderr.on('data', (d) => (stderr += d))
    proc.once('error', reject)
    proc.once('exit', (code) => {
      const seconds = (performance.now() - started) / 1000
      if (code === 0) resolve(seconds)
      else reject(new Error(`${script} exited with ${code}: ${stderr}`))
    })
  })
}

const CAT = 'find "$1" -type f -print0 | xargs -0 cat > /dev/null'
// Four cats at a time: each big file its own cat (so they spread over the
// four), the small ones 256 per cat (one process per small file would
// measure process starts, not reads).
const CAT_P4 = [
  'find "$1" -type f -size +1M -print0 | xargs -0 -n 1 -P 4 cat > /dev/null',
  'find "$1" -type f ! -size +1M -print0 | xargs -0 -n 256 -P 4 cat > /dev/null',
].join(' && ')

async function api(base, method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'x-api-key': API_KEY, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  const json = await res.json()
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
  return json
}

/**
 * One cache job over the whole root: seconds from the POST to the poll that
 * sees it completed, and the job's own createdAt..completedAt (no polling in it).
 */
async function roomgateJob(base, bytes) {
  const started = performance.now()
  const created = await api(base, 'POST', '/api/v1/cache/jobs', { directories: ['.'] })
  if (created.totalSize.bytes !== bytes) throw new Error(`the job holds ${created.totalSize.bytes} bytes, the data set ${bytes}`)
  for (;;) {
    const { job } = await api(base, 'GET', `/api/v1/cache/jobs/${created.jobId}`)
    if (job.status === 'completed') {
      const seconds = (performance.now() - started) / 1000
      const { size, files } = job.progress
      if (size.completedBytes !== bytes || files.failed > 0) {
        throw new Error(`job ${created.jobId} completed with ${size.completedBytes} of ${bytes} bytes, ${files.failed} files failed`)
      }
      return { seconds, jobSeconds: (Date.parse(job.completedAt) - Date.parse(job.createdAt)) / 1000 }
    }
    if (job.status !== 'pending' && job.status !== 'running') throw new Error(`job ${created.jobId} ended ${job.status}: ${job.error}`)
    if ((performance.now() - started) / 1000 > 600) throw new Error(`job ${created.jobId} still ${job.status} after 10 minutes`)
    await sleep(POLL_MS)
  }
}

async function startJobsRoomgate(dir, nodeFlags = []) {
  const { proc, base } = await startRoomgate({
    file: join(BASE, 'roomgate.json'),
    config: { auth: { apiKeys: [API_KEY] }, jobs: { root: dir, concurrency: 4, rateLimit: { perMinute: 100_000 } } },
    nodeFlags,
  })
  // startProcess pins servers to one cpu (for wrk's sake); cat runs unpinned
  // here, so roomgate gets every cpu too, all its threads included.
  if (ALL_CPUS) spawnSync('taskset', ['-a', '-p', '-c', ALL_CPUS, String(proc.pid)], { stdio: 'ignore' })
  return { proc, base }
}

export async function jobsScenario({ quick, rounds = quick ? 2 : 3, nodeFlags = [] }) {
  const set = dataSet(quick)
  if (set.skipped) return set
  for (const note of set.notes) process.stderr.write(`jobs: ${note}\n`)
  if (set.written > 0) process.stderr.write(`jobs: wrote ${gib(set.written)} under ${set.dir}\n`)

  const rg = await startJobsRoomgate(set.dir, nodeFlags)
  /** roomgate's rate by the job's own timestamps (createdAt..completedAt, no polling in it). */
  const jobSamples = []
  const systems = {
    roomgate: async () => {
      const { seconds, jobSeconds } = await roomgateJob(rg.base, set.bytes)
      jobSamples.push(mibps(set.bytes, jobSeconds))
      return seconds
    },
    cat: () => shell(CAT, set.dir),
    'cat-p4': () => shell(CAT_P4, set.dir),
  }
  let samples
  try {
    // Warm-up, not measured: cat puts every file in the page cache (a kept data
    // set may have been evicted), the first job warms roomgate's JIT.
    await systems.cat()
    await systems.roomgate()
    jobSamples.length = 0
    // name -> seconds of each run
    samples = await runRounds(Object.keys(systems), rounds, (name) => systems[name](), (seconds) =>
      `${Math.round(mibps(set.bytes, seconds))} MiB/s (${seconds.toFixed(2)} s)`,
    )
  } finally {
    await stop(rg.proc)
  }

  const figures = Object.fromEntries(
    Object.entries(samples).map(([name, runs]) => {
      const xs = runs.map((seconds) => mibps(set.bytes, seconds))
      return [name, { mb_per_s: Math.round(median(xs)), runs_mb_per_s: xs.map(Math.round) }]
    }),
  )
  figures.roomgate.job_mb_per_s = Math.round(median(jobSamples))
  // The target is against `cat FILES > /dev/null`; four cats at once (roomgate reads
  // four files at once) is the stricter limit, reported beside it.
  const ratio = (against) => fixed(figures.roomgate.mb_per_s / figures[against].mb_per_s, 2)
  return {
    figures,
    ratios: { against: 'cat', roomgate: ratio('cat'), roomgate_vs_cat_p4: ratio('cat-p4'), target: 0.8 },
    settings: {
      rounds,
      files: set.files,
      big_files: `${set.big} x 128 MiB`,
      small_files: `${set.small} x 64 KiB`,
      bytes: set.bytes,
      dir: set.dir,
      concurrency: 4,
      poll_ms: POLL_MS,
      cat: CAT,
      'cat-p4': CAT_P4,
      cache: 'page cache (files read once before the rounds)',
      pinning: ALL_CPUS ? `none: every system on cpus ${ALL_CPUS}` : 'none (no taskset)',
      notes: set.notes,
    },
  }
}

if (isMain(import.meta.url)) {
  const quick = process.argv.includes('--quick')
  const r = await jobsScenario({ quick })
  if (r.skipped) console.log(r.skipped)
  else {
    console.log(`jobs: ${r.settings.files} files, ${gib(r.settings.bytes)}, from the page cache; ratio roomgate/${r.ratios.against} ${r.ratios.roomgate}x`)
    for (const [name, f] of Object.entries(r.figures)) console.log(`${name.padEnd(9)} ${f.mb_per_s} MiB/s`)
  }
}
