/**
 * Seed 003's periodic cleaner: drops expired presence and the assignment of
 * every room without active users for `rooms.idleTimeoutSeconds`, and now and
 * then rebuilds the per-node load counts. rooms/index.ts
 * runs it in a LeaderLoop at least every second (more often for short
 * timeouts), so a room goes within about a second of its timeout.
 */
import type { Logger } from '../log.js'
import type { Counter } from '../metrics/registry.js'
import type { SharedPoolSpec, SharedStore } from './types.js'

export const MAX_CLEAN_INTERVAL_MS = 1_000
const MIN_CLEAN_INTERVAL_MS = 50
/** How often the per-node load counts are rebuilt from scratch (they are kept up to date in between). */
export const RECOUNT_INTERVAL_MS = 60_000

export function cleanInterval(idleMs: number): number {
  return Math.max(MIN_CLEAN_INTERVAL_MS, Math.min(MAX_CLEAN_INTERVAL_MS, idleMs / 4))
}

export interface CleanerOptions {
  pools: readonly SharedPoolSpec[]
  idleMs: number
  store: SharedStore
  released: Counter
  log: Logger
}

export class Cleaner {
  private lastRecount = performance.now()

  constructor(private readonly o: CleanerOptions) {}

  async run(): Promise<void> {
    const { o } = this
    const recount = performance.now() - this.lastRecount >= RECOUNT_INTERVAL_MS
    for (const pool of o.pools) {
      const removed = await o.store.clean(pool.name, o.idleMs)
      if (recount) await o.store.recount(pool)
      if (removed.length === 0) continue
      o.released.child(pool.name).inc(removed.length)
      o.log.info({ pool: pool.name, rooms: removed.slice(0, 20), count: removed.length }, 'idle rooms released their nodes')
    }
    if (recount) this.lastRecount = performance.now()
  }
}
