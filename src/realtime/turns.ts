/**
 * One caller per turn of the event loop. When a thousand devices reconnect
 * at once, their upgrades arrive in one poll of the sockets and their history
 * reads come back together (one Redis reply holds many); doing all of that
 * work as it arrives would hold the loop for as long as it takes, and every
 * other connection's messages would wait. Upgrades and replays wait here for
 * their turn instead: one per `setImmediate`, so the loop polls sockets
 * between two of them. A lone caller waits one turn.
 */
export class Turns {
  private readonly waiting: (() => void)[] = []
  private head = 0
  private scheduled = false

  /** Resolves on this caller's turn. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve)
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(this.step)
      }
    })
  }

  private readonly step = (): void => {
    const resolve = this.waiting[this.head++]!
    if (this.head === this.waiting.length) {
      this.waiting.length = 0
      this.head = 0
      this.scheduled = false
    } else {
      // Queued from inside an immediate, it runs on the loop's next turn, after a poll for I/O.
      setImmediate(this.step)
    }
    resolve()
  }
}
