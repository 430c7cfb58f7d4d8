/**
 * Seed 003's periodic cleaner: drops expired presence and the assignment of
 * every room without active users for `rooms.idleTimeoutSeconds`. It ticks at
 * least every second (more often for short timeouts), so a room goes within
 * about a second of its timeout. One leader per cluster.
 */
import type { LeaseStore } from '../engine/types.js'
import type { Logger } from '../log.js'
import type { Counter } from '../metrics/registry.js'
import { LeaderLoop } from '../loops/leader-loop.js'
import type { SharedStore } from './types.js'

export const MAX_CLEAN_INTERVAL_MS = 1_000
const MIN_CLEAN_INTERVAL_MS = 50

export interface CleanerOptions {
  pools: readonly string[]
  idleMs: number
  store: SharedStore
  leases: LeaseStore
  released: Counter
  log: Logger
}

export class RoomCleaner {
  private readonly loop: LeaderLoop

  constructor(private readonly o: CleanerOptions) {
    this.loop = new LeaderLoop({
      name: 'rooms-cleaner',
      intervalMs: Math.max(MIN_CLEAN_INTERVAL_MS, Math.min(MAX_CLEAN_INTERVAL_MS, o.idleMs / 4)),
      leases: o.leases,
      log: o.log,
      run: () => this.clean(),
    })
  }

  start(): void {
    this.loop.start()
  }

  close(): Promise<void> {
    return this.loop.close()
  }

  tick(): Promise<void> {
    return this.loop.tick()
  }

  private async clean(): Promise<void> {
    for (const pool of this.o.pools) {
      const removed = await this.o.store.clean(pool, this.o.idleMs)
      if (removed.length === 0) continue
      this.o.released.child(pool).inc(removed.length)
      this.o.log.info({ pool, rooms: removed.slice(0, 20), count: removed.length }, 'idle rooms released their nodes')
    }
  }
}
