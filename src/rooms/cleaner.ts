/**
 * Seed 003's periodic cleaner: drops expired presence and the assignment of
 * every room without active users for `rooms.idleTimeoutSeconds`. On taking
 * over as leader it rebuilds the per-node load counts. rooms/index.ts
 * runs it in a LeaderLoop at least every second (more often for short
 * timeouts), so a room goes within about a second of its timeout.
 */
import type { Logger } from '../log.js'
import type { Counter } from '../metrics/registry.js'
import type { SharedPoolSpec, SharedStore } from './types.js'

export const MAX_CLEAN_INTERVAL_MS = 1_000
const MIN_CLEAN_INTERVAL_MS = 50

export function cleanInterval(idleMs: number): number {
  return Math.max(MIN_CLEAN_INTERVAL_MS, Math.min(MAX_CLEAN_INTERVAL_MS, idleMs / 4))
}

export interface CleanerOptions {
  /** The shared pools, as the last reload left them. */
  pools: ReadonlyMap<string, SharedPoolSpec>
  idleMs: number
  store: SharedStore
  released: Counter
  log: Logger
}

export class Cleaner {
  constructor(private readonly o: CleanerOptions) {}

  /**
   * On taking over: rebuild the per-node counts (they may have drifted while
   * nobody cleaned) and make every room due once.
   */
  async recount(): Promise<void> {
    await this.each((pool) => this.o.store.recount(pool))
  }

  async run(signal?: AbortSignal): Promise<void> {
    await this.each(async (pool) => {
      if (signal?.aborted) return
      const removed = await this.o.store.clean(pool.name, this.o.idleMs)
      if (removed.length === 0) return
      this.o.released.child(pool.name).inc(removed.length)
      this.o.log.info({ pool: pool.name, rooms: removed.slice(0, 20), count: removed.length }, 'idle rooms released their nodes')
    })
  }

  /** Every pool, even when one fails; the first failure is rethrown after all ran. */
  private async each(work: (pool: SharedPoolSpec) => Promise<void>): Promise<void> {
    const results = await Promise.allSettled([...this.o.pools.values()].map(work))
    const failed = results.find((r) => r.status === 'rejected')
    if (failed) throw (failed as PromiseRejectedResult).reason
  }
}
