import type { Redis } from 'ioredis'
import { keys } from '../engine/keys.js'
import { TAKE_TOKEN_LUA } from './lua.js'
import type { RateRule } from './token-bucket.js'
import type { RateLimitStore, Verdict } from './store.js'

type TakeToken = (key: string, rps: number, burst: number, cost: number) => Promise<[number, number, number]>

/** Buckets shared by every instance on one Redis; one EVALSHA per check (concurrent checks share a write: auto-pipelining). */
export class RedisRateLimitStore implements RateLimitStore {
  private readonly takeToken: TakeToken

  constructor(redis: Redis) {
    redis.defineCommand('rgTakeToken', { numberOfKeys: 1, lua: TAKE_TOKEN_LUA })
    const r = redis as unknown as { rgTakeToken: TakeToken }
    this.takeToken = r.rgTakeToken.bind(redis)
  }

  async take(limiter: string, id: string, rule: RateRule): Promise<Verdict> {
    const [allowed, remaining, retryAfterMs] = await this.takeToken(keys.rateLimit(limiter, id), rule.rps, rule.burst, 1)
    return { allowed: allowed === 1, remaining, retryAfterMs }
  }
}
