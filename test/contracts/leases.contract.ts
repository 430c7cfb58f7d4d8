/** LeaseStore contract, Redis only: two holders on one Redis. (The memory lease always leads.) */
import { expect, it } from 'vitest'
import type { LeaseStore } from '../../src/engine/types.js'
import { sleep } from '../helpers/ports.js'

export function leasesContract(create: () => Promise<{ a: LeaseStore; b: LeaseStore; close(): Promise<void> }>): void {
  it('gives a lease to one holder at a time, renews it, and hands it over on release or expiry', async () => {
    const { a, b, close } = await create()
    const name = `lease-${process.pid}-${Date.now()}`
    try {
      expect(await a.acquire(name, 200)).toBe(true)
      expect(await b.acquire(name, 200)).toBe(false)
      expect(await a.acquire(name, 200)).toBe(true)
      await a.release(name)
      expect(await b.acquire(name, 150)).toBe(true)
      expect(await a.acquire(name, 150)).toBe(false)
      await sleep(250)
      expect(await a.acquire(name, 150)).toBe(true)
      await b.release(name) // not the holder: no effect
      expect(await b.acquire(name, 150)).toBe(false)
    } finally {
      await close()
    }
  })
}
