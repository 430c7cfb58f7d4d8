/**
 * Events roomgate answers itself instead of routing to a service (`identify`
 * now; room presence, job and metrics subscriptions as those capabilities
 * arrive). They are looked up before the routing table.
 */
import type { Client } from './client.js'
import type { Inbound } from './protocol.js'

export type LocalHandler = (client: Client, message: Inbound) => unknown

export interface LocalEvent {
  handler: LocalHandler
  /** False only for events a connection may send before it identifies. */
  requiresIdentity: boolean
}

export class LocalEvents {
  private readonly events = new Map<string, LocalEvent>()

  register(name: string, handler: LocalHandler, options: { requiresIdentity?: boolean } = {}): void {
    if (this.events.has(name)) throw new Error(`local event ${name} registered twice`)
    this.events.set(name, { handler, requiresIdentity: options.requiresIdentity ?? true })
  }

  get(name: string): LocalEvent | undefined {
    return this.events.get(name)
  }
}

/** 1 to 256 characters, none of them a control character. */
export function isValidDeviceId(v: unknown): v is string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 256) return false
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return false
  }
  return true
}
