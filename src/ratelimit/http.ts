/**
 * Per-client-IP rate limiting for HTTP routes, on the engine's shared buckets.
 * Fails open: if the store cannot answer (Redis down), the request goes
 * through and the outage is logged once, not once per request.
 */
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import { rateLimited } from '../errors.js'
import type { Logger } from '../log.js'
import type { CounterChild } from '../metrics/registry.js'
import type { RateLimitStore } from './store.js'
import type { RateRule } from './token-bucket.js'

export interface IpLimitOptions {
  limiter: string
  rule: RateRule
  store: RateLimitStore
  rejected: CounterChild
  log: Logger
}

export function ipRateLimit(o: IpLimitOptions): onRequestAsyncHookHandler {
  let failing = false
  return async (request: FastifyRequest) => {
    let verdict
    try {
      verdict = await o.store.take(o.limiter, request.ip, o.rule)
    } catch (err) {
      if (!failing) o.log.warn({ err: (err as Error).message, limiter: o.limiter }, 'rate limit store unavailable; letting requests through')
      failing = true
      return
    }
    if (failing) o.log.info({ limiter: o.limiter }, 'rate limit store answering again')
    failing = false
    if (!verdict.allowed) {
      o.rejected.inc()
      throw rateLimited(verdict.retryAfterMs)
    }
  }
}
