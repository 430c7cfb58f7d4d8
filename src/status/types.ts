/**
 * The status proxy's shared state: per project slug, the last statuses read
 * from the client's API, when, and a version that goes up with each change.
 * Writes are compare-and-set on the version, so two writers (the poller and a
 * refresh on another instance) never both claim the same version. Snapshots
 * outlive their freshness: a stale one is served when the client API fails.
 */
export interface StatusSnapshot {
  statuses: Record<string, string>
  /** Epoch ms of the read from the client API. */
  fetchedAt: number
  /** 0 before the first write; +1 per write that changed the statuses or was a forced refresh. */
  version: number
}

export type PutResult = { ok: true; snapshot: StatusSnapshot } | { ok: false; current: StatusSnapshot | undefined }

export interface StatusCacheStore {
  get(slug: string): Promise<StatusSnapshot | undefined>
  /**
   * Writes `statuses` read at `fetchedAt` if the stored version is still
   * `previous`'s (none stored when `previous` is undefined): a store writes
   * only what changed since `previous`, which must be a snapshot this store
   * returned. `bump`: the version goes up by one (a change, or a refresh);
   * otherwise only the time is updated.
   */
  put(slug: string, previous: StatusSnapshot | undefined, statuses: Record<string, string>, fetchedAt: number, bump: boolean): Promise<PutResult>
}

/** Snapshots are dropped after this long without a write (a slug removed from the config). */
export const SNAPSHOT_TTL_MS = 7 * 24 * 3600 * 1000
