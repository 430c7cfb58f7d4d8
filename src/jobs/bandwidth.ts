/**
 * A read bandwidth cap shared by every file read of an instance (like
 * rclone's --bwlimit): readers take their chunk's bytes before reading it and
 * wait, in turn, when the bucket is empty. Burst: a quarter of a second.
 */
export class Bandwidth {
  private tokens: number
  private last = performance.now()
  private tail: Promise<void> = Promise.resolve()

  constructor(private readonly bytesPerSecond: number) {
    this.tokens = this.burst
  }

  private get burst(): number {
    return this.bytesPerSecond / 4
  }

  /** Resolves when `bytes` may be read; rejects with the signal's reason if it aborts first. */
  take(bytes: number, signal: AbortSignal): Promise<void> {
    if (this.bytesPerSecond <= 0) return Promise.resolve()
    const turn = this.tail.then(() => this.wait(bytes, signal))
    this.tail = turn.catch(() => undefined)
    return turn
  }

  private async wait(bytes: number, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted()
    const now = performance.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond)
    this.last = now
    this.tokens -= bytes
    if (this.tokens >= 0) return
    await sleep((-this.tokens / this.bytesPerSecond) * 1000, signal)
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      signal.removeEventListener('abort', stop)
      resolve()
    }
    const timer = setTimeout(done, ms)
    const stop = () => {
      clearTimeout(timer)
      reject(signal.reason as Error)
    }
    signal.addEventListener('abort', stop, { once: true })
  })
}
