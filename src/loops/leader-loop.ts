/**
 * A background loop that runs on one instance of the cluster at a time: each
 * tick takes or renews a lease, and only the holder does the work. While the
 * work runs, the lease is renewed every third of its TTL; if a renewal fails,
 * the work's signal aborts, so a slow run never overlaps a new leader's.
 * Ticks never overlap (the next is scheduled when one finishes), the timer is
 * unref'd, and failures are logged (once, until the loop succeeds again),
 * never thrown.
 */
import type { LeaseStore } from '../engine/types.js'
import { OutageLog, type Logger } from '../log.js'

export interface LeaderLoopOptions {
  /** Lease name, also the `loop` field of log lines. */
  name: string
  intervalMs: number
  leases: LeaseStore
  /** The work of one tick; `signal` aborts if this instance stops being the leader meanwhile. */
  run: (signal: AbortSignal) => Promise<void>
  /** Runs once each time this instance becomes the leader, before its first run. */
  onLead?: () => Promise<void>
  log: Logger
}

/** A lease outlives three missed ticks. */
const LEASE_TICKS = 3
const MIN_LEASE_MS = 2_000

export class LeaderLoop {
  private timer: NodeJS.Timeout | undefined
  private started = false
  private running: Promise<void> | undefined
  private closed = false
  private readonly outage: OutageLog
  private leading = false
  /** The run in progress: close() aborts it. */
  private work: AbortController | undefined

  constructor(private readonly o: LeaderLoopOptions) {
    this.outage = new OutageLog(o.log, 'background loop failed; retrying', 'background loop recovered', { loop: o.name })
  }

  /** Runs the first tick now (a caller's tick() joins it), then one every interval. */
  start(): void {
    if (this.closed || this.started) return
    this.started = true
    void this.tick().then(() => this.schedule())
  }

  /**
   * Stops the loop: aborts the run in progress, hands the lease back (it is
   * not renewed again), and waits for the run to end.
   */
  async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.timer)
    this.work?.abort(new Error('loop closed'))
    // In parallel: with Redis frozen each waits out one command timeout, not two in a row.
    await Promise.all([this.running, this.leading ? this.o.leases.release(this.o.name).catch(() => undefined) : undefined])
  }

  /** Runs one tick now (tests, and callers that want the work done at once). */
  tick(): Promise<void> {
    this.running ??= this.once().finally(() => (this.running = undefined))
    return this.running
  }

  private schedule(): void {
    if (this.closed) return
    this.timer = setTimeout(() => void this.tick().then(() => this.schedule()), this.o.intervalMs)
    this.timer.unref()
  }

  private async once(): Promise<void> {
    const { o } = this
    const ttl = Math.max(o.intervalMs * LEASE_TICKS, MIN_LEASE_MS)
    try {
      const leading = await o.leases.acquire(o.name, ttl)
      // Closed while asking: give back what was just taken.
      if (this.closed) {
        if (leading) await o.leases.release(o.name).catch(() => undefined)
        this.leading = false
        return
      }
      const became = leading && !this.leading
      if (leading !== this.leading) o.log.info({ loop: o.name }, leading ? 'leading background loop' : 'another instance leads background loop')
      this.leading = leading
      if (leading) {
        const lost = new AbortController()
        this.work = lost
        const renew = setInterval(() => {
          if (this.closed) return
          o.leases.acquire(o.name, ttl).then(
            (still) => {
              if (!still) lost.abort(new Error('lost the lease'))
            },
            (err: unknown) => lost.abort(err),
          )
        }, ttl / 3)
        try {
          if (became) await o.onLead?.()
          await o.run(lost.signal)
        } finally {
          clearInterval(renew)
          this.work = undefined
        }
        if (lost.signal.aborted) this.leading = false
      }
      this.outage.ok()
    } catch (err) {
      this.outage.fail(err)
    }
  }
}
