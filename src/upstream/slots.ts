/**
 * Admission to an upstream pool: at most `size` requests on the wire (one per
 * keep-alive connection), the rest wait here in FIFO order, at most
 * `maxWaiting` of them. undici's own queue is never used: it cannot be
 * bounded, and a queued request ignores its abort signal until it gets a
 * connection. Here a waiter that times out or whose client leaves is removed
 * at once, with everything it holds.
 */
import { RoomgateError } from '../errors.js'

export interface SlotRequest {
  /** A connection is free: send, then call `release` exactly when done. */
  granted(release: () => void): void
  /** No slot in time (`timeout`), or the wait list is full (`busy`). */
  refused(reason: 'timeout' | 'busy'): void
}

interface Waiter {
  request: SlotRequest
  timer: NodeJS.Timeout | undefined
}

const noop = (): void => undefined

export class Slots {
  private active = 0
  private readonly waiting = new Set<Waiter>()

  constructor(
    readonly size: number,
    readonly maxWaiting: number,
  ) {}

  get inUse(): number {
    return this.active
  }

  get queued(): number {
    return this.waiting.size
  }

  /**
   * Grants a slot now or when one frees. With `timeoutMs`, refuses with
   * `timeout` if none frees in time. Returns a cancel function for a waiter
   * whose client has left (a no-op once granted or refused).
   */
  request(request: SlotRequest, timeoutMs?: number): () => void {
    if (this.active < this.size) {
      this.active++
      request.granted(this.releaser())
      return noop
    }
    if (this.waiting.size >= this.maxWaiting) {
      request.refused('busy')
      return noop
    }
    const waiter: Waiter = { request, timer: undefined }
    if (timeoutMs !== undefined) {
      waiter.timer = setTimeout(() => {
        if (this.waiting.delete(waiter)) request.refused('timeout')
      }, timeoutMs)
    }
    this.waiting.add(waiter)
    return () => {
      if (this.waiting.delete(waiter)) clearTimeout(waiter.timer)
    }
  }

  private releaser(): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      this.active--
      for (const next of this.waiting) {
        this.waiting.delete(next)
        clearTimeout(next.timer)
        this.active++
        next.request.granted(this.releaser())
        return
      }
    }
  }
}

export function busy(service: string, waiting: number): RoomgateError {
  return new RoomgateError('service_saturated', { service, waiting })
}
