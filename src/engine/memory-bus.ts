import type { Bus, MessageHandler } from './types.js'

/**
 * The bus of a single process. Delivery is asynchronous, like Redis: publish
 * resolves first and handlers run on a later microtask, so code written
 * against the memory engine does not come to rely on synchronous delivery.
 */
export class MemoryBus implements Bus {
  private readonly handlers = new Map<string, Set<MessageHandler>>()

  constructor(private readonly onHandlerError: (err: unknown, channel: string) => void) {}

  publish(channel: string, message: string): Promise<number> {
    const set = this.handlers.get(channel)
    if (!set || set.size === 0) return Promise.resolve(0)
    const targets = [...set]
    queueMicrotask(() => {
      for (const handler of targets) {
        try {
          handler(message)
        } catch (err) {
          this.onHandlerError(err, channel)
        }
      }
    })
    return Promise.resolve(1)
  }

  subscribe(channel: string, handler: MessageHandler): Promise<void> {
    let set = this.handlers.get(channel)
    if (!set) this.handlers.set(channel, (set = new Set()))
    set.add(handler)
    return Promise.resolve()
  }

  /** The process' own bus never loses a message. */
  onResubscribed(): void {}

  unsubscribe(channel: string, handler: MessageHandler): Promise<void> {
    const set = this.handlers.get(channel)
    set?.delete(handler)
    if (set?.size === 0) this.handlers.delete(channel)
    return Promise.resolve()
  }
}
