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

    it('hands every message a publish counted to the handler, even while that handler is being unsubscribed', async () => {
      const got: string[] = []
      const h = (m: string) => got.push(m)
      await f.bus.subscribe('c3', h)
      // Publishes in flight on one connection while the unsubscribe goes out on another: Redis counts some of them for us.
      const publishes = Array.from({ length: 2_000 }, (_, i) => f.bus.publish('c3', String(i)))
      await new Promise((r) => setTimeout(r, 1))
      const leaving = f.bus.unsubscribe('c3', h)
      const counted = await Promise.all(publishes)
      await leaving
      const sum = counted.reduce((a, b) => a + b, 0)
      await waitFor(() => got.length === sum, 5_000, `${sum} counted messages`)
      expect(await f.bus.publish('c3', 'after')).toBe(0)
    })

    it('keeps a channel subscribed again while it was being left', async () => {
      const got: string[] = []
      const h = (m: string) => got.push(m)
      await f.bus.subscribe('c4', h)
      const leaving = f.bus.unsubscribe('c4', h)
      await f.bus.subscribe('c4', h)
      await leaving
      expect(await f.bus.publish('c4', 'still')).toBe(1)
      await waitFor(() => got.includes('still'))
    })
  })
}
