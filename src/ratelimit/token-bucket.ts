/**
 * A token bucket: `burst` tokens, refilled at `rps` per second. Pure and
 * clock-injected so it is exact under test; used per WebSocket connection and
 * by the memory rate-limit store. The Redis store runs the same arithmetic in Lua.
 */
export interface RateRule {
  /** Tokens added per second. */
  rps: number
  /** Bucket capacity: the largest burst allowed after a quiet period. */
  burst: number
}

export class TokenBucket {
  private tokens: number
  private updatedAt: number

  constructor(
    private readonly rule: RateRule,
    now: number,
  ) {
    this.tokens = rule.burst
    this.updatedAt = now
  }

  /** Takes `cost` tokens. Returns 0 when allowed, else the milliseconds until they would be available. */
  take(now: number, cost = 1): number {
    this.refill(now)
    if (this.tokens >= cost) {
      this.tokens -= cost
      return 0
    }
    return Math.ceil(((cost - this.tokens) * 1000) / this.rule.rps)
  }

  /** Whole tokens left (after refilling to `now`). */
  remaining(now: number): number {
    this.refill(now)
    return Math.floor(this.tokens)
  }

  /** True when the bucket is full again: it holds no information and can be dropped. */
  isFull(now: number): boolean {
    this.refill(now)
    return this.tokens >= this.rule.burst
  }

  private refill(now: number): void {
    const elapsed = now - this.updatedAt
    if (elapsed > 0) {
      this.tokens = Math.min(this.rule.burst, this.tokens + (elapsed * this.rule.rps) / 1000)
      this.updatedAt = now
    }
  }
}
