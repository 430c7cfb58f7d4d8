/**
 * Caps on long-lived connections (WebSockets, SSE streams): how many one
 * instance holds, and how many one client IP holds on it. Past the first, 503
 * `server_busy`; past the second, 429 `rate_limited`; both with Retry-After.
 */
import { RoomgateError, type NameWith } from '../errors.js'

const RETRY_LATER = { headers: { 'retry-after': '5' } }

/** Open connections per client IP; an IP with none holds no entry. */
export class PerIpCounts {
  private readonly counts = new Map<string, number>()

  of(ip: string): number {
    return this.counts.get(ip) ?? 0
  }

  add(ip: string): void {
    this.counts.set(ip, this.of(ip) + 1)
  }

  remove(ip: string): void {
    const left = this.of(ip) - 1
    if (left > 0) this.counts.set(ip, left)
    else this.counts.delete(ip)
  }
}

export interface Caps {
  open: number
  max: number
  fromIp: number
  maxPerIp: number
  /** The 503's message (`server_busy`'s when absent), and the 429's (given `{max}`). */
  busy?: NameWith
  perIp: NameWith<'max'>
}

/** One more connection would pass a cap. */
export function overCaps(c: Caps): boolean {
  return c.open >= c.max || c.fromIp >= c.maxPerIp
}

/** Throws when one more connection would pass a cap. */
export function refuseOverCaps(c: Caps): void {
  if (c.open >= c.max) throw new RoomgateError(c.busy ?? 'server_busy', undefined, RETRY_LATER)
  if (c.fromIp >= c.maxPerIp) throw new RoomgateError(c.perIp, { max: c.maxPerIp }, RETRY_LATER)
}
