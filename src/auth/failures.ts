/**
 * One budget of wrong credentials per client IP, spent by every credential
 * check roomgate makes (bearer tokens, API keys, the internal token, and the
 * dashboard and job logins over /ws), shared by all connections and, on
 * Redis, by every instance. A right credential costs nothing.
 *
 * Once an IP has spent its budget, every credential check from it answers 429
 * *without looking at the credential* until the budget refills, so a guesser
 * learns nothing more by guessing faster. Instances keep the lockouts they
 * learn of locally, so the check on the success path stays synchronous and
 * costs no Redis call; another instance learns of a lockout on that IP's
 * next failure there.
 *
 * Each failure is also spent, synchronously, from this instance's own bucket
 * with the same rule: guesses that arrive together (one burst of /ws
 * messages, many connections at once) are cut off at the budget even before
 * the shared store has answered, and a Redis outage does not open the door.
 */
import { rateLimited, type RoomgateError } from '../errors.js'
import { OutageLog, type Logger } from '../log.js'
import type { CounterChild } from '../metrics/registry.js'
import { MemoryRateLimitStore } from '../ratelimit/memory-store.js'
import type { RateLimitStore, Verdict } from '../ratelimit/store.js'
import type { RateRule } from '../ratelimit/token-bucket.js'

const LIMITER = 'auth-failures'
/** Lockouts kept before expired ones are swept (a flood of addresses cannot grow the map for long). */
const SWEEP_AT = 10_000

export interface FailureBudgetOptions {
  store: RateLimitStore
  /** Failures per minute, and how many in a row. */
  perMinute: number
  burst: number
  /** Checks refused because the IP is locked out. */
  rejected: CounterChild
  log: Logger
}

export class FailureBudget {
  private readonly rule: RateRule
  private readonly local = new MemoryRateLimitStore()
  /** IP → when its lockout ends (performance.now() ms). */
  private readonly lockedUntil = new Map<string, number>()
  private readonly outage: OutageLog

  constructor(private readonly o: FailureBudgetOptions) {
    this.rule = { rps: o.perMinute / 60, burst: o.burst }
    this.outage = new OutageLog(
      o.log,
      'credential failure budget store unavailable; counting on this instance only',
      'credential failure budget store answering again',
    )
  }

  /** The 429 to answer when `ip` is locked out now, else undefined. Synchronous: it is on every credential check. */
  lockout(ip: string): RoomgateError | undefined {
    const until = this.lockedUntil.get(ip)
    if (until === undefined) return undefined
    const wait = until - performance.now()
    if (wait <= 0) {
      this.lockedUntil.delete(ip)
      return undefined
    }
    this.o.rejected.inc()
    return locked(wait)
  }

  /**
   * A wrong credential from `ip`: spends one from its budget. Gives the error
   * to answer: `refusal` (the check's own 401), or a 429 when the budget is
   * spent. The local part is synchronous: a lockout it finds holds for the
   * very next check, whatever the shared store says later.
   */
  failed(ip: string, refusal: RoomgateError): RoomgateError | Promise<RoomgateError> {
    const local = this.local.take(LIMITER, ip, this.rule)
    if (!local.allowed) return this.lock(ip, local.retryAfterMs)
    let shared: Verdict | Promise<Verdict>
    try {
      shared = this.o.store.take(LIMITER, ip, this.rule)
    } catch (err) {
      this.outage.fail(err)
      return refusal
    }
    const judge = (verdict: Verdict) => {
      this.outage.ok()
      return verdict.allowed ? refusal : this.lock(ip, verdict.retryAfterMs)
    }
    if (!(shared instanceof Promise)) return judge(shared)
    return shared.then(judge, (err: unknown) => {
      this.outage.fail(err)
      return refusal
    })
  }

  private lock(ip: string, waitMs: number): RoomgateError {
    const now = performance.now()
    if (!this.lockedUntil.has(ip)) {
      this.o.log.warn({ ip, retryAfterMs: waitMs }, 'too many wrong credentials from one address: its credential checks answer 429 for a while')
    }
    if (this.lockedUntil.size >= SWEEP_AT) this.sweep(now)
    this.lockedUntil.set(ip, Math.max(this.lockedUntil.get(ip) ?? 0, now + waitMs))
    this.o.rejected.inc()
    return locked(waitMs)
  }

  private sweep(now: number): void {
    for (const [ip, until] of this.lockedUntil) if (until <= now) this.lockedUntil.delete(ip)
  }
}

function locked(waitMs: number): RoomgateError {
  return rateLimited(waitMs, 'credentials_locked', { seconds: Math.ceil(waitMs / 1000) })
}
