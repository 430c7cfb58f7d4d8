/** StatusCacheStore contract: compare-and-set versions, the same in memory and in Redis. */
import { describe, expect, it } from 'vitest'
import type { StatusCacheStore } from '../../src/status/types.js'

export function statusCacheContract(name: string, create: () => Promise<{ store: StatusCacheStore; close(): Promise<void> }>): void {
  describe(`StatusCacheStore (${name})`, () => {
    it('writes version 1 first, bumps only when asked, and refuses a stale expected version', async () => {
      const { store, close } = await create()
      const slug = `s${Math.random().toString(36).slice(2)}`
      try {
        expect(await store.get(slug)).toBeUndefined()
        const first = await store.put(slug, 0, { a: 'available' }, 1000, false)
        expect(first).toEqual({ ok: true, snapshot: { statuses: { a: 'available' }, fetchedAt: 1000, version: 1 } })
        expect(await store.put(slug, 1, { a: 'available' }, 2000, false)).toMatchObject({ ok: true, snapshot: { version: 1, fetchedAt: 2000 } })
        expect(await store.put(slug, 1, { a: 'sold' }, 3000, true)).toMatchObject({ ok: true, snapshot: { version: 2 } })
        const stale = await store.put(slug, 1, { a: 'reserved' }, 4000, true)
        expect(stale).toEqual({ ok: false, current: { statuses: { a: 'sold' }, fetchedAt: 3000, version: 2 } })
        expect(await store.get(slug)).toEqual({ statuses: { a: 'sold' }, fetchedAt: 3000, version: 2 })
      } finally {
        await close()
      }
    })

    it('lets one of two racing writers win', async () => {
      const { store, close } = await create()
      const slug = `r${Math.random().toString(36).slice(2)}`
      try {
        const results = await Promise.all([1, 2, 3, 4].map((i) => store.put(slug, 0, { u: String(i) }, i, true)))
        expect(results.filter((r) => r.ok)).toHaveLength(1)
        expect((await store.get(slug))!.version).toBe(1)
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
