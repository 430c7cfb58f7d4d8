/** JobStore contract: the memory and Redis stores behave the same. */
import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { isDone, type JobStore } from '../../src/jobs/types.js'
import { sleep } from '../helpers/ports.js'

type Fixture = { store: JobStore; close(): Promise<void> }

const files = (n: number, size = 10) => Array.from({ length: n }, (_, i) => ({ rel: `dir/f\t${i}.bin`, size: size + i }))
const DAY = 86_400_000

export function jobsContract(name: string, create: () => Promise<Fixture>): void {
  describe(`JobStore (${name})`, () => {
    const withStore = (fn: (s: JobStore) => Promise<void>) => async () => {
      const f = await create()
      try {
        await fn(f.store)
      } finally {
        await f.close()
      }
    }

    it('creates a pending job with its totals and its file list', withStore(async (s) => {
      const id = randomUUID()
      const job = await s.create(id, files(3))
      expect(job).toMatchObject({ id, status: 'pending', totalFiles: 3, totalBytes: 33, completedFiles: 0, startedAt: null, owner: '' })
      expect(await s.get(id)).toEqual(job)
      expect(await s.files(id, 1, 5)).toEqual([
        { rel: 'dir/f\t1.bin', size: 11 },
        { rel: 'dir/f\t2.bin', size: 12 },
      ])
      expect(await s.get(randomUUID())).toBeUndefined()
    }))

    it('lists jobs newest first, up to a limit', withStore(async (s) => {
      const ids: string[] = []
      for (let i = 0; i < 4; i++) {
        ids.push(randomUUID())
        await s.create(ids[i]!, files(1))
        await sleep(2)
      }
      const listed = (await s.list(3)).map((j) => j.id)
      expect(listed).toEqual([ids[3], ids[2], ids[1]])
    }))

    it('claims the oldest pending job once, and counts each file once whatever is reported twice', withStore(async (s) => {
      const a = randomUUID()
      await s.create(a, files(10))
      const claimed = await s.claim('i1', 10_000)
      expect(claimed).toMatchObject({ id: a, status: 'running', owner: 'i1' })
      expect(claimed!.startedAt).toBeGreaterThan(0)
      expect(await s.claim('i2', 10_000)).toBeUndefined()

      const tp = { bps: 1234, at: Date.now() }
      expect(await s.progress(a, 'i1', 10_000, [{ index: 0, ok: true, bytes: 10 }, { index: 1, ok: false, bytes: 0 }], tp, 0)).toBe('ok')
      expect(await s.progress(a, 'i1', 10_000, [{ index: 0, ok: true, bytes: 10 }, { index: 2, ok: true, bytes: 12 }, { index: 99, ok: true, bytes: 5 }], null, 0)).toBe('ok')
      const job = (await s.get(a))!
      expect(job).toMatchObject({ completedFiles: 2, completedBytes: 22, failedFiles: 1, throughputBps: 1234, throughputAt: tp.at })
      const done = await s.done(a)
      expect([0, 1, 2, 3].map((i) => isDone(done, i))).toEqual([true, true, true, false])
      expect(await s.progress(a, 'i2', 10_000, [{ index: 5, ok: true, bytes: 15 }], null, 0)).toBe('lost')
    }))

    it('keeps the bytes read inside unfinished files, replaced by each write and kept when the job is cancelled', withStore(async (s) => {
      const id = randomUUID()
      await s.create(id, files(3))
      await s.claim('i1', 10_000)
      expect(await s.progress(id, 'i1', 10_000, [], null, 7)).toBe('ok')
      expect(await s.get(id)).toMatchObject({ completedBytes: 0, partialBytes: 7 })
      expect(await s.progress(id, 'i1', 10_000, [{ index: 0, ok: true, bytes: 10 }], null, 4)).toBe('ok')
      expect(await s.get(id)).toMatchObject({ completedBytes: 10, partialBytes: 4 })
      await s.cancel(id, 60_000)
      expect(await s.get(id)).toMatchObject({ status: 'cancelled', completedBytes: 10, partialBytes: 4 })
    }))

    it("lets another owner resume a job whose lease ran out, keeping what was done", withStore(async (s) => {
      const id = randomUUID()
      await s.create(id, files(4))
      await s.claim('dead', 100)
      await s.progress(id, 'dead', 100, [{ index: 0, ok: true, bytes: 10 }], null, 0)
      expect(await s.claim('live', 10_000)).toBeUndefined()
      await sleep(200)
      const resumed = await s.claim('live', 10_000)
      expect(resumed).toMatchObject({ id, owner: 'live', completedFiles: 1 })
      expect(await s.progress(id, 'dead', 100, [{ index: 1, ok: true, bytes: 11 }], null, 0)).toBe('lost')
      expect(await s.progress(id, 'live', 10_000, [{ index: 0, ok: true, bytes: 10 }, { index: 1, ok: true, bytes: 11 }], null, 0)).toBe('ok')
      expect((await s.get(id))!.completedFiles).toBe(2)
    }))

    it('releases a job so another instance takes it at once', withStore(async (s) => {
      const id = randomUUID()
      await s.create(id, files(2))
      await s.claim('a', 60_000)
      await s.release(id, 'b') // not the owner: no effect
      expect(await s.claim('b', 60_000)).toBeUndefined()
      await s.release(id, 'a')
      expect(await s.claim('b', 60_000)).toMatchObject({ id, owner: 'b' })
    }))

    it('finishes only the owner\'s running job', withStore(async (s) => {
      const id = randomUUID()
      await s.create(id, files(1))
      expect(await s.finish(id, 'x', 'completed', null, DAY)).toBe(false)
      await s.claim('x', 60_000)
      expect(await s.finish(id, 'y', 'completed', null, DAY)).toBe(false)
      expect(await s.finish(id, 'x', 'failed', '1 of 1 files could not be read', DAY)).toBe(true)
      const job = (await s.get(id))!
      expect(job).toMatchObject({ status: 'failed', error: '1 of 1 files could not be read', owner: '' })
      expect(job.completedAt).toBeGreaterThanOrEqual(job.startedAt!)
      expect(await s.claim('z', 60_000)).toBeUndefined()
    }))

    it('cancels pending and running jobs but not finished ones', withStore(async (s) => {
      const pending = randomUUID()
      const running = randomUUID()
      await s.create(running, files(2))
      await s.create(pending, files(2))
      await s.claim('a', 60_000)
      expect(await s.cancel(pending, DAY)).toMatchObject({ job: { status: 'cancelled' }, changed: true })
      expect(await s.cancel(running, DAY)).toMatchObject({ job: { status: 'cancelled' }, changed: true })
      expect(await s.cancel(running, DAY)).toMatchObject({ job: { status: 'cancelled' }, changed: false })
      expect(await s.progress(running, 'a', 60_000, [{ index: 0, ok: true, bytes: 10 }], null, 0)).toBe('lost')
      expect(await s.finish(running, 'a', 'completed', null, DAY)).toBe(false)
      expect(await s.claim('b', 60_000)).toBeUndefined()
      expect(await s.cancel(randomUUID(), DAY)).toBeUndefined()

      const done = randomUUID()
      await s.create(done, files(1))
      await s.claim('a', 60_000)
      await s.finish(done, 'a', 'completed', null, DAY)
      expect(await s.cancel(done, DAY)).toMatchObject({ job: { status: 'completed' }, changed: false })
    }))

    it('forgets finished jobs after their retention', withStore(async (s) => {
      const id = randomUUID()
      await s.create(id, files(1))
      await s.cancel(id, 100)
      expect(await s.get(id)).toBeDefined()
      await sleep(250)
      expect(await s.get(id)).toBeUndefined()
      expect((await s.list(100)).map((j) => j.id)).not.toContain(id)
    }))

    // Issue 11: the route counted the queue, then created: racing requests (on two instances) passed jobs.maxQueued.
    it('caps jobs pending or running at maxQueued: racing creates, from two store instances too, make exactly that many', async () => {
      const a = await create()
      const b = await create()
      try {
        // Two instances share the queue when the store is shared (Redis); the memory store is one per process.
        const probe = randomUUID()
        await a.store.create(probe, files(1))
        const stores = (await b.store.get(probe)) ? [a.store, b.store] : [a.store]
        const other = stores[stores.length - 1]!
        await a.store.cancel(probe, DAY)

        const cap = 5
        const racers = 16
        const results = await Promise.all(
          Array.from({ length: racers }, (_, i) => stores[i % stores.length]!.create(randomUUID(), files(3), cap)),
        )
        const created = results.filter((r) => r !== 'full')
        expect(created).toHaveLength(cap)
        expect(results.filter((r) => r === 'full')).toHaveLength(racers - cap)
        expect(await a.store.queued()).toBe(cap)
        // A refused job left nothing behind, and a finished job frees its place.
        const refusedId = randomUUID()
        expect(await other.create(refusedId, files(2), cap)).toBe('full')
        expect(await a.store.get(refusedId)).toBeUndefined()
        expect(await a.store.files(refusedId, 0, 10)).toEqual([])
        const first = created[0]!
        expect(await a.store.cancel(first.id, DAY)).toMatchObject({ changed: true })
        expect(await other.create(randomUUID(), files(2), cap)).toMatchObject({ status: 'pending', totalFiles: 2 })
        expect(await a.store.create(randomUUID(), files(2), cap)).toBe('full')
      } finally {
        await a.close()
        await b.close()
      }
    })

    it('two claimers racing never take one job twice', withStore(async (s) => {
      const ids: string[] = Array.from({ length: 20 }, () => randomUUID())
      for (const id of ids) await s.create(id, files(1))
      const claims = await Promise.all(Array.from({ length: 40 }, (_, i) => s.claim(`w${i % 4}`, 60_000)))
      const taken = claims.filter((c) => c !== undefined).map((c) => c.id)
      expect(new Set(taken).size).toBe(taken.length)
      expect(taken.filter((id) => ids.includes(id)).sort()).toEqual([...ids].sort())
    }))
  })
}
