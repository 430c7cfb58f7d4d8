/**
 * WebSocket presence on this instance. Each (pool, room, user) is one entry in
 * the shared store, held by this instance and kept alive by a heartbeat every
 * third of its TTL; if the instance dies, its entries expire on their own. A
 * connection's joins and leaves run one after another, in the order sent.
 */
import { RoomgateError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Client } from '../realtime/client.js'
import type { Hub } from '../realtime/hub.js'
import type { PlaceResult, PresenceEntry, SharedPoolSpec, SharedStore } from './types.js'

interface Entry extends PresenceEntry {
  clients: Set<Client>
}

export interface PresenceOptions {
  store: SharedStore
  hub: Hub
  /** This instance's id: the holder of its entries. */
  holder: string
  ttlMs: number
  log: Logger
}

const key = (pool: string, room: string, user?: string) => (user === undefined ? `${pool}\n${room}` : `${pool}\n${room}\n${user}`)

export class Presence {
  private readonly entries = new Map<string, Entry>()
  /** client → (pool\nroom) → user */
  private readonly ofClient = new Map<Client, Map<string, string>>()
  /** client → the tail of its queue of presence operations */
  private readonly queues = new Map<Client, Promise<unknown>>()
  private timer: NodeJS.Timeout | undefined
  private failing = false

  constructor(private readonly o: PresenceOptions) {
    o.hub.onRemove((client) => {
      void this.queue(client, () => this.dropAll(client)).catch((err: unknown) => o.log.warn({ err }, 'presence cleanup failed'))
    })
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
    await Promise.all(entries.map((e) => this.o.store.release(e).catch(() => undefined)))
  }

  /** Places the room if needed and records the client's presence as `user`. */
  join(client: Client, pool: SharedPoolSpec, room: string, user: string): Promise<PlaceResult> {
    return this.queue(client, async () => {
      const rooms = this.ofClient.get(client)
      const current = rooms?.get(key(pool.name, room))
      if (current !== undefined && current !== user) {
        throw new RoomgateError('conflict', `This connection is in room '${room}' as '${current}' already`)
      }
      const result = await this.o.store.place(pool, room, { user, holder: this.o.holder, ttlMs: this.o.ttlMs })
      const k = key(pool.name, room, user)
      let entry = this.entries.get(k)
      if (!client.open) {
        // It left while the room was being placed: do not keep presence for it.
        if (!entry) await this.o.store.release({ pool: pool.name, room, user, holder: this.o.holder })
        return result
      }
      if (!entry) this.entries.set(k, (entry = { pool: pool.name, room, user, holder: this.o.holder, clients: new Set() }))
      entry.clients.add(client)
      let mine = rooms
      if (!mine) this.ofClient.set(client, (mine = new Map()))
      mine.set(key(pool.name, room), user)
      this.o.hub.joinRoom(client, room)
      return result
    })
  }

  /** Ends the client's presence in the room; false if it was not there. */
  leave(client: Client, pool: string, room: string): Promise<boolean> {
    return this.queue(client, () => this.leaveNow(client, pool, room))
  }

  /** Local holders right now (metrics, tests). */
  get size(): number {
    return this.entries.size
  }

  private async leaveNow(client: Client, pool: string, room: string): Promise<boolean> {
    const mine = this.ofClient.get(client)
    const user = mine?.get(key(pool, room))
    if (!mine || user === undefined) return false
    mine.delete(key(pool, room))
    if (mine.size === 0) this.ofClient.delete(client)
    if (![...mine.keys()].some((k) => k.endsWith(`\n${room}`))) this.o.hub.leaveRoom(client, room)
    const k = key(pool, room, user)
    const entry = this.entries.get(k)
    entry?.clients.delete(client)
    if (entry && entry.clients.size === 0) {
      this.entries.delete(k)
      await this.o.store.release(entry)
    }
    return true
  }

  private async dropAll(client: Client): Promise<void> {
    for (const roomKey of [...(this.ofClient.get(client)?.keys() ?? [])]) {
      const nl = roomKey.indexOf('\n')
      await this.leaveNow(client, roomKey.slice(0, nl), roomKey.slice(nl + 1))
    }
  }

  private queue<T>(client: Client, op: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(client) ?? Promise.resolve()).then(op, op)
    const tail = run.catch(() => undefined)
    this.queues.set(client, tail)
    void tail.then(() => {
      if (this.queues.get(client) === tail) this.queues.delete(client)
    })
    return run
  }

  private async heartbeat(): Promise<void> {
    try {
      await this.o.store.touch([...this.entries.values()], this.o.ttlMs)
      if (this.failing) this.o.log.info('presence heartbeat recovered')
      this.failing = false
    } catch (err) {
      if (!this.failing) this.o.log.warn({ err: (err as Error).message }, 'presence heartbeat failed; entries may expire')
      this.failing = true
    }
  }
}
