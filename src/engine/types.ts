/**
 * What the capabilities need from shared state, as small interfaces. The
 * memory and Redis implementations of each pass one contract suite
 * (test/contracts/). The choice between them is made once, in engine/index.ts.
 */
import type { RateLimitStore } from '../ratelimit/store.js'
import type { JobStore } from '../jobs/types.js'
import type { StatusCacheStore } from '../status/types.js'
import type { ExclusiveStore, SharedStore } from '../rooms/types.js'
import type { StreamStore } from '../realtime/history/types.js'

export type MessageHandler = (message: string) => void

/** Cluster-wide pub/sub. Every instance subscribed to a channel gets every message, the sender included. */
export interface Bus {
  /**
   * Resolves with how many instances received the message (this one included
   * when it subscribes to the channel). Rejects with `engine_unavailable` when
   * the bus cannot be reached; it never queues.
   */
  publish(channel: string, message: string): Promise<number>
  subscribe(channel: string, handler: MessageHandler): Promise<void>
  unsubscribe(channel: string, handler: MessageHandler): Promise<void>
  /**
   * Called when the subscriptions are back after the bus connection was lost
   * (messages published meanwhile were not received). Never on the memory bus.
   */
  onResubscribed(listener: () => void): void
}

export type EngineState = 'ready' | 'unavailable'

/** Leader leases for background loops (see engine/leases.ts). */
export interface LeaseStore {
  /** Takes or renews lease `name` for this instance; false when another instance holds it. */
  acquire(name: string, ttlMs: number): Promise<boolean>
  /** Lets it go (if held), so another instance can take over at once. */
  release(name: string): Promise<void>
}

export interface Engine {
  readonly kind: 'memory' | 'redis'
  /** Unique per process start; pub/sub messages carry it so an instance can ignore its own. */
  readonly instanceId: string
  readonly bus: Bus
  readonly rateLimits: RateLimitStore
  readonly leases: LeaseStore
  readonly rooms: { readonly exclusive: ExclusiveStore; readonly shared: SharedStore }
  readonly jobs: JobStore
  readonly statusCache: StatusCacheStore
  /** Offsets and history of the pushed streams; publishes broadcasts. */
  readonly streams: StreamStore
  /** `unavailable` while Redis is unreachable; the memory engine is always ready. */
  state(): EngineState
  /** Releases connections and timers. Idempotent. */
  close(): Promise<void>
}
