/**
 * Per-client-IP rate limiting for HTTP routes, on the engine's shared buckets.
 * A callback hook: with the memory store it answers in the same tick, with no
 * promise per request. Fails open: if the store cannot answer (Redis down),
 * the request goes through and the outage is logged once, not once per request.
 */
import type { FastifyRequest, onRequestHookHandler } from 'fastify'
import { rateLimited, type NameWith } from '../errors.js'
import { OutageLog, type Logger } from '../log.js'
import type { CounterChild } from '../metrics/registry.js'
import type { RateLimitStore, Verdict } from './store.js'
import type { RateRule } from './token-bucket.js'

export interface IpLimitOptions {
  limiter: string
  rule: RateRule
  store: RateLimitStore
  rejected: CounterChild
  log: Logger
  /** Whose bucket a request takes from; the client IP by default. */
  idOf?: (request: FastifyRequest) => string
  /** The 429's message, when it must differ from the default (seed 002's words). */
  refusal?: NameWith
}

type Done = (err?: Error) => void

export function ipRateLimit(o: IpLimitOptions): onRequestHookHandler {
  const outage = new OutageLog(o.log, 'rate limit store unavailable; letting requests through', 'rate limit store answering again', {
    limiter: o.limiter,
  })
  const judge = (verdict: Verdict, done: Done) => {
    outage.ok()
    if (verdict.allowed) return done()
    o.rejected.inc()
    done(rateLimited(verdict.retryAfterMs, o.refusal))
  }
  const failOpen = (err: unknown, done: Done) => {
    outage.fail(err)
    done()
  }
  return (request, _reply, done) => {
    let answer: Verdict | Promise<Verdict>
    try {
      answer = o.store.take(o.limiter, o.idOf ? o.idOf(request) : request.ip, o.rule)
    } catch (err) {
      return failOpen(err, done)
    }
    if (answer instanceof Promise) answer.then((v) => judge(v, done), (err: unknown) => failOpen(err, done))
    else judge(answer, done)
  }
}
