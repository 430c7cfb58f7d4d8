/**
 * The idempotency keys of recent broadcasts, so a retried broadcast (after an
 * ambiguous timeout) is not delivered twice. Bounded in count and in age.
 */
export const RECENT_KEYS_MAX = 10_000
export const RECENT_KEYS_TTL_MS = 5 * 60_000

export class RecentKeys {
  /** key → expiry; Map order is insertion order, so the oldest come first. */
  private readonly keys = new Map<string, number>()

  constructor(
    private readonly max = RECENT_KEYS_MAX,
    private readonly ttlMs = RECENT_KEYS_TTL_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Records `key`; false when it was already seen within the TTL. */
  add(key: string): boolean {
    const now = this.now()
    for (const [k, expiry] of this.keys) {
      if (expiry > now && this.keys.size < this.max) break
      this.keys.delete(k)
    }
    const expiry = this.keys.get(key)
    if (expiry !== undefined && expiry > now) return false
    this.keys.set(key, now + this.ttlMs)
    return true
  }

  /** Whether `key` was recorded within the TTL. */
  has(key: string): boolean {
    const expiry = this.keys.get(key)
    return expiry !== undefined && expiry > this.now()
  }

  get size(): number {
    return this.keys.size
  }
}
