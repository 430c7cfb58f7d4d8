/** The behaviour every Bus implementation promises (engine/types.ts). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Bus } from '../../src/engine/types.js'
import { waitFor } from '../helpers/ports.js'

export interface BusFixture {
  bus: Bus
  close(): Promise<void>
}

export function busContract(name: string, create: () => Promise<BusFixture>): void {
  describe(`Bus contract: ${name}`, () => {
    let f: BusFixture
    beforeEach(async () => {
      f = await create()
    })
    afterEach(async () => {
      await f.close()
    })

    it('reports no receivers when nobody subscribes', async () => {
      expect(await f.bus.publish('c0', 'x')).toBe(0)
    })

    it('delivers the exact message to a subscriber and counts this instance', async () => {
      const got: string[] = []
      await f.bus.subscribe('c1', (m) => got.push(m))
      const text = 'héllo\n{"a":1}\u0000 ✓'
      expect(await f.bus.publish('c1', text)).toBe(1)
      await waitFor(() => got.length === 1)
      expect(got).toEqual([text])
    })

    it('keeps channels apart and preserves order', async () => {
      const a: string[] = []
      const b: string[] = []
      await f.bus.subscribe('ca', (m) => a.push(m))
      await f.bus.subscribe('cb', (m) => b.push(m))
      for (let i = 0; i < 100; i++) await f.bus.publish('ca', String(i))
      await f.bus.publish('cb', 'only-b')
      await waitFor(() => a.length === 100 && b.length === 1)
      expect(a).toEqual(Array.from({ length: 100 }, (_, i) => String(i)))
      expect(b).toEqual(['only-b'])
    })

    it('calls every handler of a channel, and stops after unsubscribe', async () => {
      const one: string[] = []
      const two: string[] = []
      const h1 = (m: string) => one.push(m)
      const h2 = (m: string) => two.push(m)
      await f.bus.subscribe('c2', h1)
      await f.bus.subscribe('c2', h2)
      await f.bus.publish('c2', 'both')
      await waitFor(() => one.length === 1 && two.length === 1)
      await f.bus.unsubscribe('c2', h1)
      await f.bus.publish('c2', 'second')
      await waitFor(() => two.length === 2)
      expect(one).toEqual(['both'])
      await f.bus.unsubscribe('c2', h2)
      expect(await f.bus.publish('c2', 'nobody')).toBe(0)
    })
  })
}
