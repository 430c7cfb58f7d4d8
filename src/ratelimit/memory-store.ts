import { TokenBucket, type RateRule } from './token-bucket.js'
import type { RateLimitStore, Verdict } from './store.js'

/** Full buckets are dropped at most this often, and the map never holds more than `maxBuckets`. */
const SWEEP_INTERVAL_MS = 10_000
export const DEFAULT_MAX_BUCKETS = 100_000

export class MemoryRateLimitStore implements RateLimitStore {
  private readonly buckets = new Map<string, TokenBucket>()
  private lastSweep: number

  constructor(
    // Monotonic: a wall-clock jump backwards must not lock clients out.
    private readonly now: () => number = () => performance.now(),
    private readonly maxBuckets = DEFAULT_MAX_BUCKETS,
  ) {
    this.lastSweep = now()
  }

  take(limiter: string, id: string, rule: RateRule): Verdict {
    const now = this.now()
    if (now - this.lastSweep > SWEEP_INTERVAL_MS || this.buckets.size >= this.maxBuckets) this.sweep(now)
    const key = `${limiter}\u0000${id}`
    let bucket = this.buckets.get(key)
    if (!bucket) {
      bucket = new TokenBucket(rule, now)
      this.buckets.set(key, bucket)
    }
    const wait = bucket.take(now)
    return { allowed: wait === 0, remaining: bucket.remaining(now), retryAfterMs: wait }
  }

  get size(): number {
    return this.buckets.size
  }

  /**
   * Drops buckets that refilled completely (they carry no state). If the map is
   * still above 90% of its cap, drops the oldest: those clients start again with
   * a full bucket, which bounds memory at the cost of some leniency under a
   * flood of ids.
   */
  private sweep(now: number): void {
    this.lastSweep = now
    for (const [key, bucket] of this.buckets) if (bucket.isFull(now)) this.buckets.delete(key)
    // Leave headroom, or a map hovering at the cap would be swept on every call.
    const target = Math.floor(this.maxBuckets * 0.9)
    let excess = this.buckets.size - target
    for (const key of this.buckets.keys()) {
      if (excess-- <= 0) break
      this.buckets.delete(key)
    }
  }
}
