/**
 * WebSocket presence on this instance. Each (pool, room, user) is one entry in
 * the shared store, held by this instance and kept alive by a heartbeat every
 * third of its TTL; if the instance dies, its entries expire on their own.
 *
 * A connection's joins and leaves run one after another, in the order sent.
 * An entry shared by several connections (one user, two devices) is released
 * only when none holds it and no join for it is still on its way to the store.
 * If the store lost a room while this instance could not renew its entries,
 * the heartbeat places it again, on the node its clients were told if
 * possible; if not, they get a `room.moved` event.
 */
import { RoomgateError } from '../errors.js'
import { OutageLog, type Logger } from '../log.js'
import type { Client } from '../realtime/client.js'
import type { Hub } from '../realtime/hub.js'
import { eventFrame } from '../realtime/protocol.js'
import { ROOM_PREFIX, topics } from '../realtime/topics.js'
import type { PlaceResult, PresenceEntry, SharedPoolSpec, SharedStore } from './types.js'

/** Rooms one connection may be in at once. */
export const MAX_ROOMS_PER_CONNECTION = 32
/** Room operations one connection may have waiting. */
export const MAX_PENDING_PER_CONNECTION = 16

interface Entry extends PresenceEntry {
  spec: SharedPoolSpec
  clients: Set<Client>
  /** Joins for this entry still on their way to the store. */
  joining: number
  /** The node this instance's clients were told. */
  node: string
}

export interface PresenceOptions {
  store: SharedStore
  hub: Hub
  /** This instance's id: the holder of its entries. */
  holder: string
  /** Entry TTL in whole milliseconds. */
  ttlMs: number
  log: Logger
}

const entryKey = (pool: string, room: string, user: string) => `${pool}\n${room}\n${user}`

/**
 * Presence keeps its store entries only; which rooms a connection is in is
 * the hub's (`room:<name>` topics, one reference per pool joined).
 */
export class Presence {
  private readonly entries = new Map<string, Entry>()
  /** room → this instance's entries in it, any pool */
  private readonly byRoom = new Map<string, Set<Entry>>()
  /** client → the tail of its queue of presence operations, and how many wait in it */
  private readonly queues = new Map<Client, { tail: Promise<unknown>; pending: number }>()
  private timer: NodeJS.Timeout | undefined
  private readonly outage: OutageLog

  constructor(private readonly o: PresenceOptions) {
    this.outage = new OutageLog(o.log, 'presence heartbeat failed; entries may expire', 'presence heartbeat recovered')
    o.hub.onRemove((client) => void this.dropAll(client))
  }

  start(): void {
    this.timer ??= setInterval(() => void this.heartbeat(), this.o.ttlMs / 3)
    this.timer.unref()
  }

  /** Stops the heartbeat and ends this instance's presence, so its users stop counting at once. */
  async close(): Promise<void> {
    clearInterval(this.timer)
    const entries = [...this.entries.values()]
    this.entries.clear()
    this.byRoom.clear()
    await Promise.allSettled(entries.map((e) => this.o.store.release(e)))
  }

  /** Places the room if needed and records the client's presence as `user`. */
  join(client: Client, pool: SharedPoolSpec, room: string, user: string): Promise<PlaceResult> {
    return this.queue(client, async () => {
      const current = this.held(client, pool.name, room)
      if (current !== undefined && current.user !== user) {
        throw new RoomgateError('room_user_conflict', { room, user: current.user })
      }
      if (current === undefined && roomsOf(client) >= MAX_ROOMS_PER_CONNECTION) {
        throw new RoomgateError('rooms_per_connection', { max: MAX_ROOMS_PER_CONNECTION })
      }
      const k = entryKey(pool.name, room, user)
      let entry = this.entries.get(k)
      if (!entry) {
        entry = { pool: pool.name, room, user, holder: this.o.holder, spec: pool, clients: new Set(), joining: 0, node: '' }
        this.add(k, entry)
      }
      entry.joining++
      let result: PlaceResult
      try {
        result = await this.o.store.place(pool, room, { user, holder: this.o.holder, ttlMs: this.o.ttlMs })
      } catch (err) {
        entry.joining--
        // Nothing to release: whatever the store kept expires with its TTL.
        if (entry.clients.size === 0 && entry.joining === 0 && this.entries.get(k) === entry) this.delete(k, entry)
        throw err
      }
      entry.joining--
      entry.node = result.node
      if (!client.open) {
        // It left while the room was being placed: do not keep presence for it.
        await this.settle(k, entry)
        return result
      }
      if (!entry.clients.has(client)) {
        entry.clients.add(client)
        this.o.hub.join(client, topics.room(room))
      }
      return result
    })
  }

  /** Ends the client's presence in the room; false if it was not there. */
  leave(client: Client, pool: string, room: string): Promise<boolean> {
    return this.queue(client, async () => {
      const entry = this.held(client, pool, room)
      if (!entry) return false
      this.detach(client, entry)
      await this.settle(entryKey(pool, room, entry.user), entry)
      return true
    })
  }

  /** Local entries right now (metrics, tests). */
  get size(): number {
    return this.entries.size
  }

  /** The entry the client holds in this room of this pool. */
  private held(client: Client, pool: string, room: string): Entry | undefined {
    for (const e of this.byRoom.get(room) ?? []) if (e.pool === pool && e.clients.has(client)) return e
    return undefined
  }

  private detach(client: Client, entry: Entry): void {
    if (entry.clients.delete(client)) this.o.hub.leave(client, topics.room(entry.room))
  }

  private add(k: string, entry: Entry): void {
    this.entries.set(k, entry)
    let set = this.byRoom.get(entry.room)
    if (!set) this.byRoom.set(entry.room, (set = new Set()))
    set.add(entry)
  }

  private delete(k: string, entry: Entry): void {
    this.entries.delete(k)
    const set = this.byRoom.get(entry.room)
    set?.delete(entry)
    if (set?.size === 0) this.byRoom.delete(entry.room)
  }

  /** Releases an entry nobody holds or is joining; a failed release is left to expire. */
  private async settle(k: string, entry: Entry): Promise<void> {
    if (entry.clients.size > 0 || entry.joining > 0 || this.entries.get(k) !== entry) return
    this.delete(k, entry)
    try {
      await this.o.store.release(entry)
    } catch (err) {
      this.o.log.debug({ room: entry.room, err: (err as Error).message }, 'presence release failed; the entry will expire')
    }
  }

  /** A connection is going away: drop its local state at once, then release what nobody else holds. */
  private async dropAll(client: Client): Promise<void> {
    const mine: Entry[] = []
    for (const name of client.topics.keys()) {
      if (!name.startsWith(ROOM_PREFIX)) continue
      for (const e of this.byRoom.get(name.slice(ROOM_PREFIX.length)) ?? []) if (e.clients.has(client)) mine.push(e)
    }
    for (const e of mine) this.detach(client, e)
    await Promise.allSettled(mine.map((e) => this.settle(entryKey(e.pool, e.room, e.user), e)))
  }

  private queue<T>(client: Client, op: () => Promise<T>): Promise<T> {
    let q = this.queues.get(client)
    if (!q) this.queues.set(client, (q = { tail: Promise.resolve(), pending: 0 }))
    if (q.pending >= MAX_PENDING_PER_CONNECTION) {
      return Promise.reject(new RoomgateError('room_ops_waiting'))
    }
    q.pending++
    const queue = q
    const run = queue.tail.then(op, op)
    queue.tail = run.then(
      () => this.dequeue(client, queue),
      () => this.dequeue(client, queue),
    )
    return run
  }

  private dequeue(client: Client, q: { pending: number }): void {
    q.pending--
    if (q.pending === 0 && this.queues.get(client) === q) this.queues.delete(client)
  }

  private async heartbeat(): Promise<void> {
    try {
      const orphans = (await this.o.store.touch([...this.entries.values()], this.o.ttlMs)) as Entry[]
      for (const e of orphans) await this.replace(e)
      this.outage.ok()
    } catch (err) {
      this.outage.fail(err)
    }
  }

  /** The store dropped this entry's room while we could not renew it: place it again. */
  private async replace(e: Entry): Promise<void> {
    const { node } = await this.o.store.place(e.spec, e.room, { user: e.user, holder: e.holder, ttlMs: this.o.ttlMs }, e.node)
    this.o.log.warn({ pool: e.pool, room: e.room, node, was: e.node }, 'room placed again after its assignment was lost')
    if (node === e.node) return
    e.node = node
    const frame = eventFrame('room.moved', { room: e.room, pool: e.pool, node })
    for (const c of e.clients) c.send(frame)
  }
}

/** Rooms (per pool) the client is in. */
function roomsOf(client: Client): number {
  let n = 0
  for (const [name, m] of client.topics) if (name.startsWith(ROOM_PREFIX)) n += m.refs
  return n
}
