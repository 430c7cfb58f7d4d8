import type { RateRule } from './token-bucket.js'

export interface Verdict {
  allowed: boolean
  /** Whole tokens left after this call. */
  remaining: number
  /** When refused: milliseconds until a token is available. */
  retryAfterMs: number
}

/**
 * Shared token buckets, one per (limiter, client id). In the Redis engine the
 * buckets are shared by every instance. Failure policy: when the store cannot
 * answer, the caller lets the request through (fail open) and says so in the
 * logs; a rate limiter must not turn a Redis outage into a full outage.
 */
export interface RateLimitStore {
  /** The memory store answers synchronously; callers handle both forms. */
  take(limiter: string, id: string, rule: RateRule): Verdict | Promise<Verdict>
}
