/**
 * The cache worker under faults, on real files and the memory store: progress
 * writes that fail, a shutdown racing a claim, a store that stops answering
 * for longer than a lease, and a read that never returns. Faults are injected
 * by wrapping the real store (or giving a reader that hangs), not by mocking
 * the worker's own logic.
 */
import { Hub } from '../../src/realtime/hub.js'
import { realpathSync } from 'node:fs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createMemoryEngine } from '../../src/engine/memory.js'
import { Bandwidth } from '../../src/jobs/bandwidth.js'
import { JobEvents } from '../../src/jobs/events.js'
import { FsLane } from '../../src/jobs/fs-lane.js'
import { ReadPool } from '../../src/jobs/read-pool.js'
import { MemoryJobStore } from '../../src/jobs/store-memory.js'
import type { JobStore } from '../../src/jobs/types.js'
import { JobWorker, type WorkerOptions } from '../../src/jobs/worker.js'
import { silentLog } from '../helpers/log.js'
import { tempRoot, type TempRoot } from '../helpers/job-files.js'
import { sleep, waitFor } from '../helpers/ports.js'

let root: TempRoot
const workers: JobWorker[] = []
beforeEach(async () => {
  root = await tempRoot()
})
afterEach(async () => {
  for (const w of workers.splice(0)) await w.close()
  await root.remove()
})

/** The real store, with faults switched on and off by the test. */
function faulty(store: JobStore) {
  // progress: the next n progress writes fail; downUntil: every call fails until then (a partition).
  const faults = { progress: 0, downUntil: 0 }
  const down = () => Promise.reject(new Error('injected: store unavailable'))
  const wrapped = new Proxy(store, {
    get(target, name: keyof JobStore) {
      const method = target[name] as (...a: unknown[]) => Promise<unknown>
      return (...args: unknown[]) => {
        if (Date.now() < faults.downUntil) return down()
        if (name === 'progress' && faults.progress > 0) {
          faults.progress--
          return down()
        }
        return method.apply(target, args)
      }
    },
  })
  return { store: wrapped, faults }
}

function worker(store: JobStore, o: Partial<WorkerOptions> = {}): JobWorker {
  const engine = createMemoryEngine(silentLog)
  const events = new JobEvents(engine, new Hub(), silentLog, () => null, { cancel: () => {}, created: () => {}, rate: () => {} })
  const w = new JobWorker({
    store,
    events,
    owner: 'instance-a',
    root: realpathSync(root.dir),
    lane: new FsLane({ timeoutMs: 30_000 }),
    concurrency: 2,
    maxRunning: 1,
    fileThreshold: 1,
    timeThresholdMs: 50,
    retentionMs: 60_000,
    leaseMs: 600,
    bandwidth: new Bandwidth(0),
    metrics: { files: () => {}, bytes: () => {}, finished: () => {} },
    log: silentLog,
    ...o,
  })
  workers.push(w)
  return w
}

async function job(store: JobStore, n: number, size = 1000): Promise<string> {
  const files = []
  for (let i = 0; i < n; i++) {
    await root.file(`f${i}.bin`, size)
    files.push({ rel: `f${i}.bin`, size })
  }
  const id = crypto.randomUUID()
  await store.create(id, files)
  return id
}

describe('cache worker under faults', () => {
  it('keeps the results of a failed progress write and writes them later: no file is lost', async () => {
    const base = new MemoryJobStore()
    const { store, faults } = faulty(base)
    const id = await job(base, 40)
    faults.progress = 3
    worker(store, { bandwidth: new Bandwidth(200_000) }).start()
    const done = await waitFor(async () => {
      const j = await base.get(id)
      return j?.status === 'completed' ? j : undefined
    })
    expect(done).toMatchObject({ completedFiles: 40, failedFiles: 0, completedBytes: 40_000, error: null })
  })

  it('does not start a job claimed while it closes, and leaves it claimable', async () => {
    const store = new MemoryJobStore()
    const id = await job(store, 5)
    const w = worker(store, { pool: new ReadPool({ root: realpathSync(root.dir), size: 2, timeoutMs: 30_000 }) })
    w.start()
    await w.close()
    const after = (await store.get(id))!
    expect(after.failedFiles).toBe(0)
    expect(after.status === 'pending' || after.owner === '').toBe(true)
    expect(await store.claim('other', 1_000)).toMatchObject({ id })
  })

  it('stops by itself when it cannot write for a whole lease', async () => {
    const base = new MemoryJobStore()
    const { store, faults } = faulty(base)
    const id = await job(base, 200, 20_000)
    const w = worker(store, { bandwidth: new Bandwidth(400_000), concurrency: 1 })
    w.start()
    await waitFor(async () => ((await base.get(id))?.completedFiles ?? 0) > 0)
    faults.downUntil = Date.now() + 60_000
    const stopped = Date.now()
    await waitFor(() => w.active === 0, 3_000)
    expect(Date.now() - stopped).toBeLessThan(1_500)
    // Another instance takes it over once the lease has run out.
    await sleep(700)
    expect(await base.claim('instance-b', 1_000)).toMatchObject({ id })
  })

  it('ends a cancel and a shutdown at once even when a read never returns', async () => {
    const store = new MemoryJobStore()
    const id = await job(store, 3)
    const hanging = { read: () => new Promise<number>(() => {}), close: async () => {} } as unknown as ReadPool
    const w = worker(store, { pool: hanging })
    w.start()
    await waitFor(() => w.active === 1)
    await store.cancel(id, 60_000)
    w.cancel(id)
    await waitFor(() => w.active === 0, 500)

    const second = await job(store, 2)
    w.fill()
    await waitFor(async () => (await store.get(second))?.status === 'running')
    const started = Date.now()
    await w.close()
    expect(Date.now() - started).toBeLessThan(1_000)
    expect(await store.claim('instance-b', 1_000)).toMatchObject({ id: second })
  })
})
