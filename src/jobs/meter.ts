/**
 * Throughput over a sliding window: bytes are added to one-second slots and
 * the rate is their sum over the window's span. Cheap enough to call per chunk.
 */
const SLOT_MS = 1_000

export class Meter {
  private readonly slots: Array<{ at: number; bytes: number }> = []

  constructor(private readonly windowMs = 5_000) {}

  add(bytes: number, now = Date.now()): void {
    const at = now - (now % SLOT_MS)
    const last = this.slots[this.slots.length - 1]
    if (last && last.at === at) last.bytes += bytes
    else this.slots.push({ at, bytes })
    this.trim(now)
  }

  /** Bytes per second over the window; 0 when nothing was read in it. */
  rate(now = Date.now()): number {
    this.trim(now)
    const first = this.slots[0]
    if (!first) return 0
    const bytes = this.slots.reduce((n, s) => n + s.bytes, 0)
    const span = Math.max(SLOT_MS, Math.min(this.windowMs, now - first.at))
    return (bytes * 1000) / span
  }

  private trim(now: number): void {
    while (this.slots.length > 0 && this.slots[0]!.at <= now - this.windowMs) this.slots.shift()
  }
}
