/**
 * One start or stop per room at a time, across the cluster. A start writes the
 * mapping, then calls the node, and undoes the mapping if the node refuses;
 * without the lock a second start arriving meanwhile would answer "started on
 * node X" for a mapping about to be undone. In-process, calls for a room
 * queue behind each other; across instances, a lease (`rg:lease:room-op:…`,
 * released at the end, expiring by itself if the holder dies) makes the others
 * wait until the first call is done.
 */
import type { LeaseStore } from '../engine/types.js'
import { RoomgateError } from '../errors.js'

const POLL_MS = 50

export class RoomLock {
  private readonly queues = new Map<string, Promise<void>>()

  /**
   * @param holdMs how long one operation may take (the node call's deadline
   *   and a margin): the lease's time to live, and the longest wait.
   */
  constructor(
    private readonly leases: LeaseStore,
    private readonly holdMs: number,
  ) {}

  async run<T>(room: string, op: () => Promise<T>): Promise<T> {
    const before = this.queues.get(room) ?? Promise.resolve()
    let done!: () => void
    const mine = before.then(() => new Promise<void>((resolve) => (done = resolve)))
    this.queues.set(room, mine)
    await before
    try {
      const name = `room-op:${room}`
      await this.acquire(name)
      try {
        return await op()
      } finally {
        await this.leases.release(name).catch(() => undefined)
      }
    } finally {
      done()
      if (this.queues.get(room) === mine) this.queues.delete(room)
    }
  }

  private async acquire(name: string): Promise<void> {
    const deadline = Date.now() + this.holdMs
    while (!(await this.leases.acquire(name, this.holdMs))) {
      if (Date.now() >= deadline) {
        throw new RoomgateError('room_busy', undefined, { headers: { 'retry-after': '1' } })
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    }
  }
}
