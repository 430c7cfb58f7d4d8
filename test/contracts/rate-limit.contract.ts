/** The behaviour every RateLimitStore promises (ratelimit/store.ts). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { RateLimitStore } from '../../src/ratelimit/store.js'
import { sleep } from '../helpers/ports.js'

export interface StoreFixture {
  store: RateLimitStore
  close(): Promise<void>
}

export function rateLimitContract(name: string, create: () => Promise<StoreFixture>): void {
  describe(`RateLimitStore contract: ${name}`, () => {
    let f: StoreFixture
    let n = 0
    const id = () => `client-${process.pid}-${Date.now()}-${n++}`
    beforeEach(async () => {
      f = await create()
    })
    afterEach(async () => {
      await f.close()
    })

    it('allows the burst, then refuses with the wait for the next token', async () => {
      const who = id()
      const rule = { rps: 2, burst: 3 }
      const verdicts = []
      for (let i = 0; i < 4; i++) verdicts.push(await f.store.take('t', who, rule))
      expect(verdicts.map((v) => v.allowed)).toEqual([true, true, true, false])
      expect(verdicts.map((v) => v.remaining)).toEqual([2, 1, 0, 0])
      expect(verdicts[3]!.retryAfterMs).toBeGreaterThan(400)
      expect(verdicts[3]!.retryAfterMs).toBeLessThanOrEqual(500)
    })

    it('keeps limiters and clients apart', async () => {
      const a = id()
      const rule = { rps: 1, burst: 1 }
      expect((await f.store.take('t', a, rule)).allowed).toBe(true)
      expect((await f.store.take('t', a, rule)).allowed).toBe(false)
      expect((await f.store.take('t', id(), rule)).allowed).toBe(true)
      expect((await f.store.take('other', a, rule)).allowed).toBe(true)
    })

    it('refills at the rate', async () => {
      const who = id()
      const rule = { rps: 20, burst: 1 }
      expect((await f.store.take('t', who, rule)).allowed).toBe(true)
      expect((await f.store.take('t', who, rule)).allowed).toBe(false)
      await sleep(80)
      expect((await f.store.take('t', who, rule)).allowed).toBe(true)
    })

    it('never lets more than the burst through under concurrent calls', async () => {
      const who = id()
      const rule = { rps: 0.001, burst: 10 }
      const verdicts = await Promise.all(Array.from({ length: 50 }, async () => f.store.take('t', who, rule)))
      expect(verdicts.filter((v) => v.allowed)).toHaveLength(10)
    })
  })
}
