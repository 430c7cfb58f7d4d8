import { describe, expect, it } from 'vitest'
import { TokenBucket } from '../../src/ratelimit/token-bucket.js'
import { MemoryRateLimitStore } from '../../src/ratelimit/memory-store.js'
import { RateRules } from '../../src/ratelimit/rules.js'

describe('TokenBucket', () => {
  it('allows a burst, then refills at the rate', () => {
    const b = new TokenBucket({ rps: 10, burst: 3 }, 0)
    expect([b.take(0), b.take(0), b.take(0)]).toEqual([0, 0, 0])
    expect(b.take(0)).toBe(100) // one token takes 100 ms at 10/s
    expect(b.take(50)).toBe(50)
    expect(b.take(100)).toBe(0)
    expect(b.take(100)).toBe(100)
  })

  it('never holds more than the burst after a long pause', () => {
    const b = new TokenBucket({ rps: 1, burst: 2 }, 0)
    expect(b.remaining(1_000_000)).toBe(2)
    expect(b.isFull(1_000_000)).toBe(true)
    b.take(1_000_000)
    expect(b.isFull(1_000_000)).toBe(false)
  })

  it('follows a reload of its rule: a lower burst caps what it holds, a new rate refills at once', () => {
    const rules = new RateRules({ rps: 100, burst: 100 })
    const b = new TokenBucket(rules.perIp, 0)
    rules.reload({ rps: 1, burst: 2 })
    expect([b.take(1), b.take(1), b.take(1)]).toEqual([0, 0, 1000])
    expect(rules.perDevice).toBeUndefined()
    rules.reload({ rps: 1, burst: 2, perDevice: { rps: 5, burst: 5 } })
    const device = rules.perDevice
    rules.reload({ rps: 1, burst: 2, perDevice: { rps: 2, burst: 3 } })
    expect(rules.perDevice).toBe(device)
    expect(device).toEqual({ rps: 2, burst: 3 })
  })

  it('handles fractional rates', () => {
    const b = new TokenBucket({ rps: 0.5, burst: 1 }, 0)
    expect(b.take(0)).toBe(0)
    expect(b.take(0)).toBe(2000)
    expect(b.take(2000)).toBe(0)
  })
})

describe('MemoryRateLimitStore', () => {
  it('keeps one bucket per limiter and id', () => {
    let now = 0
    const store = new MemoryRateLimitStore(() => now)
    const rule = { rps: 1, burst: 1 }
    expect((store.take('http', 'a', rule)).allowed).toBe(true)
    const refused = store.take('http', 'a', rule)
    expect(refused).toEqual({ allowed: false, remaining: 0, retryAfterMs: 1000 })
    expect((store.take('http', 'b', rule)).allowed).toBe(true)
    expect((store.take('other', 'a', rule)).allowed).toBe(true)
    now = 1000
    expect((store.take('http', 'a', rule)).allowed).toBe(true)
  })

  it('stays bounded under a flood of client ids', () => {
    let now = 0
    const store = new MemoryRateLimitStore(() => now, 1_000)
    for (let i = 0; i < 10_000; i++) {
      store.take('http', `ip-${i}`, { rps: 1, burst: 5 })
      now++
    }
    expect(store.size).toBeLessThanOrEqual(1_000)
  })

  it('drops buckets that have refilled', () => {
    let now = 0
    const store = new MemoryRateLimitStore(() => now)
    for (let i = 0; i < 100; i++) store.take('http', `ip-${i}`, { rps: 10, burst: 5 })
    expect(store.size).toBe(100)
    now = 20_000
    store.take('http', 'late', { rps: 10, burst: 5 })
    expect(store.size).toBe(1)
  })
})
