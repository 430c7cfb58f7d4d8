/** StatusCacheStore contract: compare-and-set versions, the same in memory and in Redis. */
import { describe, expect, it } from 'vitest'
import type { StatusCacheStore, StatusSnapshot } from '../../src/status/types.js'

export function statusCacheContract(name: string, create: () => Promise<{ store: StatusCacheStore; close(): Promise<void> }>): void {
  describe(`StatusCacheStore (${name})`, () => {
    it('starts a new snapshot at the clock in ms, bumps only when asked, and refuses a stale expected version', async () => {
      const { store, close } = await create()
      const slug = `s${Math.random().toString(36).slice(2)}`
      try {
        expect(await store.get(slug)).toBeUndefined()
        const before = Date.now()
        const first = await store.put(slug, undefined, { a: 'available' }, 1000, false)
        if (!first.ok) throw new Error('first write refused')
        const v = first.snapshot.version
        // Versions never start again low: after a store lost the key they stay above every earlier one.
        expect(v).toBeGreaterThanOrEqual(before - 1_000)
        expect(v).toBeLessThanOrEqual(Date.now() + 1_000)
        expect(first).toEqual({ ok: true, snapshot: { statuses: { a: 'available' }, fetchedAt: 1000, version: v } })
        const second = await store.put(slug, first.snapshot, { a: 'available' }, 2000, false)
        expect(second).toMatchObject({ ok: true, snapshot: { version: v, fetchedAt: 2000 } })
        expect(await store.put(slug, second.ok ? second.snapshot : undefined, { a: 'sold' }, 3000, true)).toMatchObject({ ok: true, snapshot: { version: v + 1 } })
        const stale = await store.put(slug, first.snapshot, { a: 'reserved' }, 4000, true)
        expect(stale).toEqual({ ok: false, current: { statuses: { a: 'sold' }, fetchedAt: 3000, version: v + 1 } })
        expect(await store.get(slug)).toEqual({ statuses: { a: 'sold' }, fetchedAt: 3000, version: v + 1 })
      } finally {
        await close()
      }
    })

    it('lets one of two racing writers win', async () => {
      const { store, close } = await create()
      const slug = `r${Math.random().toString(36).slice(2)}`
      try {
        const results = await Promise.all([1, 2, 3, 4].map((i) => store.put(slug, undefined, { u: String(i) }, i, true)))
        const won = results.filter((r) => r.ok)
        expect(won).toHaveLength(1)
        expect((await store.get(slug))!.version).toBe(won[0]!.ok ? won[0]!.snapshot.version : NaN)
      } finally {
        await close()
      }
    })

    it('keeps ids that are not plain names', async () => {
      const { store, close } = await create()
      const slug = `p${Math.random().toString(36).slice(2)}`
      try {
        const statuses = JSON.parse('{"__proto__": "sold", "a b": "hold", "ü": "available"}') as Record<string, string>
        const first = await store.put(slug, undefined, statuses, 1, true)
        expect(Object.keys((await store.get(slug))!.statuses).sort()).toEqual(['__proto__', 'a b', 'ü'])
        const next = JSON.parse('{"__proto__": "available", "a b": "hold", "z": "sold"}') as Record<string, string>
        await store.put(slug, first.ok ? first.snapshot : undefined, next, 2, true)
        const read = (await store.get(slug))!.statuses
        expect(Object.getPrototypeOf(read) === null || Object.hasOwn(read, '__proto__')).toBe(true)
        expect(Object.entries(read).sort()).toEqual([['__proto__', 'available'], ['a b', 'hold'], ['z', 'sold']])
      } finally {
        await close()
      }
    })

    it('keeps what changed from version to version: statuses set, units added and units gone', async () => {
      const { store, close } = await create()
      const slug = `c${Math.random().toString(36).slice(2)}`
      try {
        let last: StatusSnapshot | undefined
        const versions: Array<Record<string, string>> = [
          { a: 'available', b: 'sold', c: 'reserved' },
          { a: 'sold', b: 'sold', c: 'reserved' },
          { a: 'sold', c: 'reserved', d: 'available' },
          {},
          { e: 'sold' },
        ]
        for (const [i, statuses] of versions.entries()) {
          const put = await store.put(slug, last, statuses, i, true)
          if (!put.ok) throw new Error(`write ${i} refused`)
          last = put.snapshot
          const read = await store.get(slug)
          expect({ ...read!.statuses }).toEqual(statuses)
          expect(read!.version).toBe(last.version)
        }
      } finally {
        await close()
      }
    })
  })
}
