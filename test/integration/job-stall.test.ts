/**
 * Issue 11, defect 10: a stalled network mount had no deadline. A call that
 * never answers (NFS or FUSE gone) blocked the walk, the start, or a read
 * thread forever, and four of them took every libuv thread. Here calls that
 * never answer, until the test lets them, go through the real code: the fs
 * lane gets a JobFs whose calls on chosen names hang (their real answer comes
 * when released), and the read threads get an fs module whose openSync blocks
 * the thread for real. The deadline is 200 ms; the tests wait for states and
 * errors, not for time.
 */
import { Hub } from '../../src/realtime/hub.js'
import { realpathSync, rmSync, writeFileSync } from 'node:fs'
import { lstat, open, readdir, realpath, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createMemoryEngine } from '../../src/engine/memory.js'
import { Bandwidth } from '../../src/jobs/bandwidth.js'
import { JobEvents } from '../../src/jobs/events.js'
import { FsLane, StorageStalled, type JobFs } from '../../src/jobs/fs-lane.js'
import { ReadPool } from '../../src/jobs/read-pool.js'
import { RootWatch } from '../../src/jobs/root-watch.js'
import { MemoryJobStore } from '../../src/jobs/store-memory.js'
import { resolveJobFiles } from '../../src/jobs/walk.js'
import { JobWorker, type WorkerOptions } from '../../src/jobs/worker.js'
import { silentLog } from '../helpers/log.js'
import { tempRoot, type TempRoot } from '../helpers/job-files.js'
import { waitFor } from '../helpers/ports.js'

const DEADLINE_MS = 200
const stalledText = (what: string) => `${what} did not answer within 0.2 s: the storage may be stalled`

let root: TempRoot
let realRoot: string
const workers: JobWorker[] = []
const releases: Array<() => void> = []
beforeEach(async () => {
  root = await tempRoot()
  realRoot = realpathSync(root.dir)
})
afterEach(async () => {
  for (const release of releases.splice(0)) release()
  for (const w of workers.splice(0)) await w.close()
  await root.remove()
})

/**
 * node:fs/promises, except that calls on a path whose last name is in `names`
 * do not answer until `release()`: like a stalled mount, the call is made (an
 * open does open) and its answer comes late, if ever.
 */
function stallingFs(names: string[]) {
  let release!: () => void
  const released = new Promise<void>((r) => (release = r))
  releases.push(release)
  /** Handles that a stalled open returned late. */
  const late: FileHandle[] = []
  const stalls = (p: string) => names.includes(path.basename(p))
  const fs: JobFs = {
    async realpath(p) {
      const real = await realpath(p)
      if (stalls(p)) await released
      return real
    },
    async open(p, flags) {
      const handle = await open(p, flags)
      if (stalls(p)) {
        late.push(handle)
        await released
      }
      return handle
    },
    lstat: (p) => lstat(p, { bigint: true }),
    readdir: (p) => readdir(p, { withFileTypes: true }),
  }
  return { fs, release, late }
}

/**
 * An fs module for the read threads whose openSync of any `stalled.mov`
 * blocks the thread itself, as a call into a dead mount does, until `release()`.
 */
function stallingThreadFs(): { module: string; release: () => void } {
  const marker = path.join(root.dir, '..', `${path.basename(root.dir)}.stalled`)
  const module = path.join(root.dir, '..', `${path.basename(root.dir)}-fs.cjs`)
  writeFileSync(marker, '')
  writeFileSync(
    module,
    `const fs = require('node:fs')
const nap = new Int32Array(new SharedArrayBuffer(4))
module.exports = {
  ...fs,
  openSync(p, flags, mode) {
    if (String(p).endsWith('/stalled.mov')) while (fs.existsSync(${JSON.stringify(marker)})) Atomics.wait(nap, 0, 0, 10)
    return fs.openSync(p, flags, mode)
  },
}
`,
  )
  const release = () => rmSync(marker, { force: true })
  releases.push(release)
  return { module, release }
}

function worker(o: Partial<WorkerOptions> & Pick<WorkerOptions, 'lane'>): { w: JobWorker; store: MemoryJobStore } {
  const store = new MemoryJobStore()
  const engine = createMemoryEngine(silentLog)
  const events = new JobEvents(engine, new Hub(), silentLog, () => null, { cancel: () => {}, created: () => {}, rate: () => {} })
  const w = new JobWorker({
    store,
    events,
    owner: 'instance-a',
    root: realRoot,
    concurrency: 2,
    maxRunning: 1,
    fileThreshold: 1,
    timeThresholdMs: 50,
    retentionMs: 60_000,
    leaseMs: 5_000,
    bandwidth: new Bandwidth(10_000_000),
    metrics: { files: () => {}, bytes: () => {}, finished: () => {} },
    log: silentLog,
    ...o,
  })
  workers.push(w)
  return { w, store }
}

async function job(store: MemoryJobStore, files: Array<[string, number]>): Promise<string> {
  for (const [rel, size] of files) await root.file(rel, size)
  const id = crypto.randomUUID()
  await store.create(id, files.map(([rel, size]) => ({ rel, size })))
  return id
}

const ended = (store: MemoryJobStore, id: string) =>
  waitFor(async () => {
    const j = await store.get(id)
    return j && ['completed', 'failed', 'cancelled'].includes(j.status) ? j : undefined
  }, 10_000, `job ${id} to end`)

describe('a stalled mount: every jobs fs call has a deadline (issue 11)', () => {
  it('fails a walk whose call does not answer, naming the path; refuses at once while every slot is stuck; closes what comes back late', async () => {
    await root.file('stalled/x.mov', 3)
    await root.file('ok/y.mov', 5)
    const { fs, release, late } = stallingFs(['stalled'])
    const lane = new FsLane({ timeoutMs: DEADLINE_MS, size: 2, fs })
    const walk = (files: string[], directories: string[] = []) =>
      resolveJobFiles({ files, directories, recursive: true }, { root: root.dir, lane, mountPrefixes: [], maxFiles: 100 })

    await expect(walk(['stalled/x.mov'])).rejects.toThrow(stalledText('opening "stalled/x.mov"'))
    // One slot holds the stuck call, the other still serves walks.
    expect(lane.stalled).toBe(false)
    expect(await walk(['ok/y.mov'])).toMatchObject({ totalBytes: 5, missing: [] })

    await expect(walk(['ok/y.mov'], ['stalled'])).rejects.toThrow(stalledText('opening "stalled"'))
    expect(lane.stalled).toBe(true)
    const refused = await walk(['ok/y.mov']).catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(StorageStalled)
    expect(refused).toMatchObject({ message: 'the storage is stalled: 2 calls have not answered within 0.2 s' })
    // What POST /jobs answers meanwhile: the same words, as a 503.
    expect((refused as StorageStalled).refusal).toMatchObject({ code: 'storage_unavailable', status: 503, message: (refused as Error).message })

    release()
    await waitFor(() => !lane.stalled)
    expect(late).toHaveLength(2)
    await waitFor(() => late.every((h) => h.fd === -1), 5_000, 'the handles opened late to be closed')
    expect(await walk(['ok/y.mov'], ['stalled'])).toMatchObject({ totalBytes: 8 })
  })

  it('fails a job whose paced read does not answer, with the file and the deadline; another job still runs', async () => {
    const { fs } = stallingFs(['stalled.mov'])
    const lane = new FsLane({ timeoutMs: DEADLINE_MS, fs })
    const { w, store } = worker({ lane })
    const stuck = await job(store, [['a.bin', 1_000], ['stalled.mov', 1_000]])
    w.start()
    expect(await ended(store, stuck)).toMatchObject({ status: 'failed', error: stalledText('reading "stalled.mov"'), failedFiles: 0 })

    const other = await job(store, [['b.bin', 2_000]])
    w.fill()
    expect(await ended(store, other)).toMatchObject({ status: 'completed', completedFiles: 1, completedBytes: 2_000, error: null })
  })

  it('fails a job whose read thread is stuck; while every thread is, jobs wait pending, and run once the storage answers', async () => {
    const threadFs = stallingThreadFs()
    const pool = new ReadPool({ root: realRoot, size: 2, timeoutMs: DEADLINE_MS, fsModule: threadFs.module })
    const { w, store } = worker({ lane: new FsLane({ timeoutMs: DEADLINE_MS }), pool })
    const stuck = await job(store, [['a.bin', 1_000], ['stalled.mov', 1_000]])
    w.start()
    expect(await ended(store, stuck)).toMatchObject({ status: 'failed', error: stalledText('reading "stalled.mov"') })

    // One thread is stuck, the other reads.
    const other = await job(store, [['b.bin', 2_000]])
    w.fill()
    expect(await ended(store, other)).toMatchObject({ status: 'completed', completedBytes: 2_000 })

    // Both threads stuck: the pool refuses reads at once, and the worker claims nothing.
    const both = await job(store, [['deep/stalled.mov', 1_000], ['stalled.mov', 1_000]])
    w.fill()
    expect(await ended(store, both)).toMatchObject({ status: 'failed', error: expect.stringMatching(/^reading "(deep\/)?stalled\.mov" did not answer within 0\.2 s/) })
    await waitFor(() => pool.stalled)
    await expect(pool.read('b.bin', new AbortController().signal, () => {})).rejects.toThrow('the storage is stalled')
    const waiting = await job(store, [['c.bin', 3_000]])
    w.fill()
    expect(w.active).toBe(0)
    expect((await store.get(waiting))!.status).toBe('pending')

    threadFs.release()
    expect(await ended(store, waiting)).toMatchObject({ status: 'completed', completedBytes: 3_000 })
    expect(pool.stalled).toBe(false)
  })

  it('does not hang the start on a jobs.root that does not answer, and starts once it does', async () => {
    const { fs, release } = stallingFs([path.basename(root.dir)])
    const lines: string[] = []
    const log = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString('utf8'))
          done()
        },
      }),
    )
    let ready: string | undefined
    const watch = new RootWatch({ root: root.dir, lane: new FsLane({ timeoutMs: DEADLINE_MS, fs }), log, retryMs: 50, ready: (r) => (ready = r) })
    try {
      await watch.start()
      expect(ready).toBeUndefined()
      expect(lines.join('')).toContain(stalledText('resolving jobs.root'))
      release()
      expect(await waitFor(() => ready)).toBe(realRoot)
    } finally {
      watch.close()
    }
  })
})
