/** StatusCacheStore contract: compare-and-set versions, the same in memory and in Redis. */
import { describe, expect, it } from 'vitest'
import type { StatusCacheStore } from '../../src/status/types.js'

export function statusCacheContract(name: string, create: () => Promise<{ store: StatusCacheStore; close(): Promise<void> }>): void {
  describe(`StatusCacheStore (${name})`, () => {
    it('starts a new snapshot at the clock in ms, bumps only when asked, and refuses a stale expected version', async () => {
      const { store, close } = await create()
      const slug = `s${Math.random().toString(36).slice(2)}`
      try {
        expect(await store.get(slug)).toBeUndefined()
        const before = Date.now()
        const first = await store.put(slug, 0, { a: 'available' }, 1000, false)
        const v = first.ok ? first.snapshot.version : NaN
        // Versions never start again low: after a store lost the key they stay above every earlier one.
        expect(v).toBeGreaterThanOrEqual(before - 1_000)
        expect(v).toBeLessThanOrEqual(Date.now() + 1_000)
        expect(first).toEqual({ ok: true, snapshot: { statuses: { a: 'available' }, fetchedAt: 1000, version: v } })
        expect(await store.put(slug, v, { a: 'available' }, 2000, false)).toMatchObject({ ok: true, snapshot: { version: v, fetchedAt: 2000 } })
        expect(await store.put(slug, v, { a: 'sold' }, 3000, true)).toMatchObject({ ok: true, snapshot: { version: v + 1 } })
        const stale = await store.put(slug, v, { a: 'reserved' }, 4000, true)
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
        const results = await Promise.all([1, 2, 3, 4].map((i) => store.put(slug, 0, { u: String(i) }, i, true)))
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
        await store.put(slug, 0, statuses, 1, true)
        expect(Object.keys((await store.get(slug))!.statuses).sort()).toEqual(['__proto__', 'a b', 'ü'])
      } finally {
        await close()
      }
    })
  })
}
