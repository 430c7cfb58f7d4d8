/** Status snapshots in this process (memory engine). */
import type { PutResult, StatusCacheStore, StatusSnapshot } from './types.js'

export class MemoryStatusCache implements StatusCacheStore {
  private readonly snapshots = new Map<string, StatusSnapshot>()

  async get(slug: string): Promise<StatusSnapshot | undefined> {
    return this.snapshots.get(slug)
  }

  async put(slug: string, previous: StatusSnapshot | undefined, statuses: Record<string, string>, fetchedAt: number, bump: boolean): Promise<PutResult> {
    const current = this.snapshots.get(slug)
    if ((current?.version ?? 0) !== (previous?.version ?? 0)) return { ok: false, current }
    // A new snapshot starts at the clock in ms, as in Redis (see cache-redis.ts).
    const version = current ? current.version + (bump ? 1 : 0) : Date.now()
    const snapshot = { statuses, fetchedAt, version }
    this.snapshots.set(slug, snapshot)
    return { ok: true, snapshot }
  }
}
