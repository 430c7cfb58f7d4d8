/**
 * Seed 003's periodic cleaner: drops expired presence and the assignment of
 * every room without active users for `rooms.idleTimeoutSeconds`. rooms/index.ts
 * runs it in a LeaderLoop at least every second (more often for short
 * timeouts), so a room goes within about a second of its timeout.
 */
import type { Logger } from '../log.js'
import type { Counter } from '../metrics/registry.js'
import type { SharedStore } from './types.js'

export const MAX_CLEAN_INTERVAL_MS = 1_000
const MIN_CLEAN_INTERVAL_MS = 50

export function cleanInterval(idleMs: number): number {
  return Math.max(MIN_CLEAN_INTERVAL_MS, Math.min(MAX_CLEAN_INTERVAL_MS, idleMs / 4))
}

export interface CleanerOptions {
  pools: readonly string[]
  idleMs: number
  store: SharedStore
  released: Counter
  log: Logger
}

export async function cleanRooms(o: CleanerOptions): Promise<void> {
  for (const pool of o.pools) {
    const removed = await o.store.clean(pool, o.idleMs)
    if (removed.length === 0) continue
    o.released.child(pool).inc(removed.length)
    o.log.info({ pool, rooms: removed.slice(0, 20), count: removed.length }, 'idle rooms released their nodes')
  }
}
