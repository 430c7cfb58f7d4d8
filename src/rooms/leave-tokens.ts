/**
 * Leave tokens for HTTP presence. On the open API (`rooms.serverApiAuth:
 * none`) anyone may PUT presence, but only whoever did may DELETE it: the PUT
 * answers a `leaveToken`, and DELETE must present it (`X-Presence-Token`) or a
 * bearer token. A token is an HMAC of pool, room and user under a key the
 * cluster shares (kept by the store), so every instance checks it and every
 * heartbeat gets the same one.
 */
import { createHmac, randomBytes } from 'node:crypto'
import type { SharedStore } from './types.js'

/** The key is read again after this, so instances agree again soon after Redis lost it. */
const KEY_CACHE_MS = 60_000

export function newPresenceKey(): string {
  return randomBytes(32).toString('base64url')
}

export class LeaveTokens {
  private key: { value: string; until: number } | undefined

  constructor(private readonly store: Pick<SharedStore, 'presenceKey'>) {}

  async sign(pool: string, room: string, user: string): Promise<string> {
    const key = await this.currentKey()
    return createHmac('sha256', key).update(`${pool}\n${room}\n${user}`).digest('base64url')
  }

  private async currentKey(): Promise<string> {
    const now = performance.now()
    if (this.key && this.key.until > now) return this.key.value
    const value = await this.store.presenceKey()
    this.key = { value, until: now + KEY_CACHE_MS }
    return value
  }
}
