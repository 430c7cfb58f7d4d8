/**
 * Deadlines of one fixed length, for many short calls. Calls start in order and
 * all get the same time, so they expire in the order they were added: a linked
 * list whose head expires first, and one timer for the whole list, instead of a
 * timer and an AbortController per call. A call that ends in time is unlinked
 * (O(1)); the timer wakes at the head's deadline, expires what is due and
 * sleeps until the next head's.
 */
export interface Deadline {
  /** The call ended in time: forget it. Idempotent. */
  cancel(): void
}

class Entry implements Deadline {
  prev: Entry | null = null
  next: Entry | null = null
  linked = true

  constructor(
    private readonly list: Deadlines,
    readonly at: number,
    readonly expire: () => void,
  ) {}

  cancel(): void {
    if (this.linked) this.list.unlink(this)
  }
}

export class Deadlines {
  private head: Entry | null = null
  private tail: Entry | null = null
  private timer: NodeJS.Timeout | undefined
  private size = 0

  constructor(readonly ms: number) {}

  /** `expire` runs once, `ms` from now, unless the returned deadline is cancelled first. */
  add(expire: () => void): Deadline {
    const entry = new Entry(this, performance.now() + this.ms, expire)
    if (this.tail === null) {
      this.head = this.tail = entry
      // A timer still armed for an earlier head fires sooner, finds this one not due and sleeps until it is.
      if (this.timer === undefined) this.arm(this.ms)
    } else {
      entry.prev = this.tail
      this.tail.next = entry
      this.tail = entry
    }
    this.size++
    return entry
  }

  /** Calls waiting for their deadline. */
  get pending(): number {
    return this.size
  }

  /** Stops the timer; pending deadlines never expire. */
  close(): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  unlink(entry: Entry): void {
    entry.linked = false
    if (entry.prev) entry.prev.next = entry.next
    else this.head = entry.next
    if (entry.next) entry.next.prev = entry.prev
    else this.tail = entry.prev
    entry.prev = entry.next = null
    this.size--
  }

  private arm(ms: number): void {
    this.timer = setTimeout(this.fire, Math.max(1, Math.ceil(ms)))
    this.timer.unref()
  }

  private readonly fire = (): void => {
    this.timer = undefined
    const now = performance.now()
    while (this.head !== null && this.head.at <= now) {
      const due = this.head
      this.unlink(due)
      due.expire()
    }
    if (this.head !== null) this.arm(this.head.at - now)
  }
}
