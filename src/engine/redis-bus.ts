import type { Redis } from 'ioredis'
import { settleWithin } from './redis-connection.js'
import type { Bus, MessageHandler } from './types.js'

interface Leaving {
  handler: MessageHandler | undefined
  done: Promise<void>
}

/**
 * Pub/sub over Redis, publishing and subscribing on separate connections. On
 * a Redis Cluster it uses sharded pub/sub (SPUBLISH/SSUBSCRIBE): a message
 * goes to the shard that owns its channel's slot, not to every node.
 */
export class RedisBus implements Bus {
  private readonly handlers = new Map<string, Set<MessageHandler>>()
  private readonly resubscribed: Array<() => void> = []
  /** Channels whose UNSUBSCRIBE is in flight, and the handler that goes once it is confirmed. */
  private readonly leaving = new Map<string, Leaving>()
  /** Whether `sub` was ready once: the next `ready` is a reconnect. */
  private connectedBefore: boolean

  constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    /** Bounds the wait for UNSUBSCRIBE, so a stalled Redis cannot hold up a shutdown. */
    private readonly timeoutMs: number,
    private readonly onHandlerError: (err: unknown, channel: string) => void,
    private readonly sharded = false,
  ) {
    this.connectedBefore = sub.status === 'ready'
    sub.on(sharded ? 'smessage' : 'message', (channel: string, message: string) => {
      const set = this.handlers.get(channel)
      if (!set) return
      for (const handler of set) {
        try {
          handler(message)
        } catch (err) {
          this.onHandlerError(err, channel)
        }
      }
    })
    if (sharded) {
      // A master's subscriber was lost (a failover); ioredis subscribes again on the new one.
      let lost = false
      sub.on('-subscriber', () => (lost = true))
      sub.on('subscribersReady', () => {
        if (!lost || this.handlers.size === 0) return
        lost = false
        for (const listener of this.resubscribed) listener()
      })
      return
    }
    sub.on('ready', () => {
      if (!this.connectedBefore) {
        this.connectedBefore = true
        return
      }
      // ioredis sends the SUBSCRIBEs again on `ready`; a PING on the same
      // connection answers once Redis has taken them.
      void settleWithin(sub.ping(), timeoutMs).then((pong) => {
        if (pong === undefined || this.handlers.size === 0) return
        for (const listener of this.resubscribed) listener()
      })
    })
  }

  onResubscribed(listener: () => void): void {
    this.resubscribed.push(listener)
  }

  /** `pub` is the guarded connection: a failure rejects with engine_unavailable. */
  publish(channel: string, message: string): Promise<number> {
    return this.sharded ? (this.pub.spublish(channel, message) as Promise<number>) : this.pub.publish(channel, message)
  }

  async subscribe(channel: string, handler: MessageHandler): Promise<void> {
    let set = this.handlers.get(channel)
    if (!set) this.handlers.set(channel, (set = new Set()))
    set.add(handler)
    const leaving = this.leaving.get(channel)
    if (leaving) {
      // The channel is being left: it is subscribed again once Redis confirms the leave.
      if (leaving.handler === handler) leaving.handler = undefined
      return leaving.done
    }
    if (set.size > 1) return
    await this.send(channel)
  }

  /**
   * The last handler of a channel keeps receiving until Redis confirms the
   * UNSUBSCRIBE: a message Redis counted for this instance before it still
   * reaches the handler, so its sender gets the count it waits for.
   */
  unsubscribe(channel: string, handler: MessageHandler): Promise<void> {
    const set = this.handlers.get(channel)
    if (!set?.has(handler)) return Promise.resolve()
    const current = this.leaving.get(channel)
    if (set.size > 1 || current) {
      if (current && set.size === 1) current.handler = handler
      else set.delete(handler)
      return current?.done ?? Promise.resolve()
    }
    const leaving: Leaving = { handler, done: Promise.resolve() }
    leaving.done = (async () => {
      if (this.sub.status === 'ready') await settleWithin(this.sharded ? this.sub.sunsubscribe(channel) : this.sub.unsubscribe(channel), this.timeoutMs)
      this.leaving.delete(channel)
      if (leaving.handler) set.delete(leaving.handler)
      if (set.size === 0) this.handlers.delete(channel)
      // Subscribed again while it was being left.
      else await this.send(channel)
    })()
    this.leaving.set(channel, leaving)
    return leaving.done
  }

  private async send(channel: string): Promise<void> {
    const confirmed = this.sharded ? this.sub.ssubscribe(channel) : this.sub.subscribe(channel)
    // Connected: wait for Redis to confirm, so delivery starts when this resolves.
    // Not connected: the SUBSCRIBE waits in the subscriber's queue and is sent on reconnect.
    if (this.sub.status === 'ready') await confirmed
    else confirmed.catch(() => undefined)
  }
}
