import type { Redis } from 'ioredis'
import type { RedisKeys } from '../engine/keys.js'
import { defineScript } from '../engine/scripts.js'
import { TAKE_TOKEN_LUA } from './lua.js'
import type { RateRule } from './token-bucket.js'
import type { RateLimitStore, Verdict } from './store.js'

/** Buckets shared by every instance on one Redis; one EVALSHA per check (concurrent checks share a write: auto-pipelining). */
export class RedisRateLimitStore implements RateLimitStore {
  private readonly takeToken

  constructor(
    redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    this.takeToken = defineScript<[number, number, number]>(redis, 'rgTakeToken', TAKE_TOKEN_LUA, 1)
  }

  async take(limiter: string, id: string, rule: RateRule): Promise<Verdict> {
    const [allowed, remaining, retryAfterMs] = await this.takeToken(this.keys.rateLimit(limiter, id), rule.rps, rule.burst, 1)
    return { allowed: allowed === 1, remaining, retryAfterMs }
  }
}
