/**
 * Issue 11, defect 9: the symlink-swap race. The walk and the reads used to
 * check a path (realpath, then "is it inside the root?") and then use it, so
 * a folder swapped for a symlink to the outside between the check and the use
 * put an outside file in a job, or had it read. Here a thread swaps a folder
 * of the root for such a symlink and back as fast as it can while jobs are
 * resolved and their files read over and over, on real files; the outside
 * files have a size no inside file has, so any escape shows.
 */
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Bandwidth } from '../../src/jobs/bandwidth.js'
import { FsLane } from '../../src/jobs/fs-lane.js'
import { ReadPool } from '../../src/jobs/read-pool.js'
import { readWhole } from '../../src/jobs/reader.js'
import { PathError, resolveJobFiles } from '../../src/jobs/walk.js'
import { closeGates, startGate } from '../helpers/gate.js'
import { jobsApi, KEY } from '../helpers/job-files.js'
import { waitFor } from '../helpers/ports.js'

const INSIDE = 1_000
const OUTSIDE = 7_777
const ROUNDS = 300
const MAX_SWAP_MS = 2_000

/** Swaps `swap` (a folder) for the symlink `link` and back until told to stop or MAX_SWAP_MS pass. */
const SWAPPER = `
const { parentPort, workerData } = require('node:worker_threads')
const fs = require('node:fs')
const { swap, parked, link, flag, maxMs } = workerData
const stop = new Int32Array(flag)
const until = Date.now() + maxMs
let swaps = 0
while (Atomics.load(stop, 0) === 0 && Date.now() < until) {
  fs.renameSync(swap, parked)
  fs.renameSync(link, swap)
  fs.renameSync(swap, link)
  fs.renameSync(parked, swap)
  swaps++
}
parentPort.postMessage(swaps)
`

let tmp: string
let root: string
beforeEach(async () => {
  tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), 'roomgate-swap-')))
  root = path.join(tmp, 'root')
  for (const [dir, size] of [[path.join(root, 'swap'), INSIDE], [path.join(tmp, 'outside'), OUTSIDE]] as const) {
    await mkdir(path.join(dir, 'sub'), { recursive: true })
    await writeFile(path.join(dir, 'a.bin'), Buffer.alloc(size, 1))
    await writeFile(path.join(dir, 'sub', 'b.bin'), Buffer.alloc(size, 2))
  }
  await writeFile(path.join(tmp, 'outside', 'only-outside.bin'), Buffer.alloc(OUTSIDE, 3))
  await symlink('../outside', path.join(root, 'swap.link'))
})
afterEach(async () => {
  await closeGates()
  await rm(tmp, { recursive: true, force: true })
})

function startSwapping() {
  const flag = new SharedArrayBuffer(4)
  const worker = new Worker(SWAPPER, {
    eval: true,
    workerData: { swap: path.join(root, 'swap'), parked: path.join(root, 'swap.parked'), link: path.join(root, 'swap.link'), flag, maxMs: MAX_SWAP_MS },
  })
  const swaps = new Promise<number>((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  let running = true
  void swaps.finally(() => (running = false)).catch(() => undefined)
  return {
    get running() {
      return running
    },
    stop: async () => {
      Atomics.store(new Int32Array(flag), 0, 1)
      return swaps
    },
  }
}

/** The size a read ended with, or the error code that refused it. */
async function outcome(read: Promise<number>): Promise<number | string> {
  return read.then(
    (n) => n,
    (err: NodeJS.ErrnoException) => err.code ?? err.name,
  )
}

describe('a folder swapped for a symlink to the outside while jobs run (issue 11)', () => {
  it('never puts an outside file in a job nor reads one, through the walk, the read threads or the paced reader', async () => {
    const pool = new ReadPool({ root, size: 2, timeoutMs: 30_000, chunk: 64 * 1024 })
    const lane = new FsLane({ timeoutMs: 30_000 })
    const never = new AbortController().signal
    const resolvedSizes = new Set<number>()
    const readSizes = new Set<number>()
    const refusals = new Set<string>()
    const swapper = startSwapping()
    try {
      for (let round = 0; round < ROUNDS && swapper.running; round++) {
        const request = { files: ['swap/a.bin', 'swap/sub/b.bin'], directories: ['swap'], recursive: true }
        const [resolved, ...reads] = await Promise.all([
          resolveJobFiles(request, { root, lane, mountPrefixes: [], maxFiles: 100 }).catch((err: unknown) => {
            // The input `swap` itself is a symlink leading outside at that moment: the job is refused.
            if (err instanceof PathError) return undefined
            throw err
          }),
          outcome(pool.read('swap/a.bin', never, () => {})),
          outcome(pool.read('swap/sub/b.bin', never, () => {})),
          outcome(readWhole('swap/sub/b.bin', { root, lane, buffer: Buffer.alloc(4096), signal: never, bandwidth: new Bandwidth(0), onBytes: () => {} })),
        ])
        for (const f of resolved?.files ?? []) {
          resolvedSizes.add(f.size)
          expect(f.rel).not.toContain('only-outside')
          expect(f.path.startsWith(`${root}/swap/`)).toBe(true)
        }
        for (const r of reads) {
          if (typeof r === 'number') readSizes.add(r)
          else refusals.add(r)
        }
      }
    } finally {
      await swapper.stop()
      await pool.close()
    }
    expect(resolvedSizes).toEqual(new Set([INSIDE]))
    expect(readSizes).toEqual(new Set([INSIDE]))
    // The swaps did meet the reads: some found a symlink (or nothing) on their way.
    expect(refusals.size).toBeGreaterThan(0)
    for (const code of refusals) expect(['ENOENT', 'ENOTDIR', 'ELOOP']).toContain(code)
  })

  it('through the HTTP API: no job counts an outside file, and no job reads one', async () => {
    const g = await startGate({
      auth: { apiKeys: [KEY] },
      rateLimit: { rps: 10_000, burst: 10_000 },
      jobs: { root, rateLimit: { perMinute: 100_000, readsPerMinute: 100_000 } },
    })
    const api = jobsApi(g.url)
    const created: string[] = []
    const statuses = new Set<number>()
    const swapper = startSwapping()
    try {
      for (let round = 0; round < ROUNDS / 2 && swapper.running; round++) {
        const { status, body } = await api.create({ files: ['swap/a.bin'], directories: ['swap/sub'] })
        statuses.add(status)
        if (status === 201) {
          // One or both inside files (1 000 bytes each), never an outside one (7 777).
          expect([INSIDE, 2 * INSIDE]).toContain(body.totalSize.bytes)
          created.push(body.jobId)
        } else if (status === 400) {
          expect(body.error).toContain('path leads outside the cache root')
        } else {
          expect(body).toMatchObject({ success: false, error: 'No files found' })
        }
      }
    } finally {
      await swapper.stop()
    }
    expect(created.length).toBeGreaterThan(0)
    for (const id of created) {
      const job = await waitFor(async () => {
        const j = (await api.get(id)).body.job
        return ['completed', 'failed'].includes(j.status) ? j : undefined
      }, 10_000, `job ${id} to end`)
      // Files read are inside ones, whole: a multiple of 1 000 bytes, never more than the job counted.
      expect(job.progress.size.completedBytes % INSIDE).toBe(0)
      expect(job.progress.size.completedBytes).toBeLessThanOrEqual(job.progress.size.totalBytes)
    }
  })
})
