import { chooseNode, memberUser, presenceMember, type NodeLoad } from './choose.js'
import type { Assignment, PlaceResult, PresenceEntry, SharedPoolSpec, SharedStore } from './types.js'

interface PoolState {
  assign: Map<string, string>
  used: Map<string, number>
  /** room → member (`user\nholder`) → expiry, epoch ms */
  presence: Map<string, Map<string, number>>
}

/** Seed 003's assignments and presence in one process; each method is atomic (it never awaits). */
export class MemorySharedStore implements SharedStore {
  private readonly pools = new Map<string, PoolState>()

  constructor(private readonly now: () => number = Date.now) {}

  async place(
    pool: SharedPoolSpec,
    room: string,
    presence?: { user: string; holder: string; ttlMs: number },
  ): Promise<PlaceResult> {
    const st = this.state(pool.name)
    const now = this.now()
    let node = st.assign.get(room)
    let created = false
    if (node === undefined || !pool.nodes.includes(node)) {
      node = chooseNode(pool, this.loads(st, now))
      st.assign.set(room, node)
      created = true
    }
    st.used.set(room, now)
    if (presence) this.members(st, room).set(presenceMember(presence.user, presence.holder), now + presence.ttlMs)
    return { node, created }
  }

  async release(e: PresenceEntry): Promise<void> {
    const st = this.state(e.pool)
    const members = st.presence.get(e.room)
    members?.delete(presenceMember(e.user, e.holder))
    if (members?.size === 0) st.presence.delete(e.room)
    if (st.assign.has(e.room)) st.used.set(e.room, this.now())
  }

  async touch(entries: readonly PresenceEntry[], ttlMs: number): Promise<void> {
    const expiry = this.now() + ttlMs
    for (const e of entries) this.members(this.state(e.pool), e.room).set(presenceMember(e.user, e.holder), expiry)
  }

  async list(pool: string): Promise<Assignment[]> {
    const st = this.state(pool)
    const now = this.now()
    return [...st.assign].map(([room, node]) => this.assignment(pool, st, room, node, now))
  }

  async get(pool: string, room: string): Promise<Assignment | undefined> {
    const st = this.state(pool)
    const node = st.assign.get(room)
    return node === undefined ? undefined : this.assignment(pool, st, room, node, this.now())
  }

  async clean(pool: string, idleMs: number): Promise<string[]> {
    const st = this.state(pool)
    const now = this.now()
    const removed: string[] = []
    for (const [room, members] of st.presence) {
      let lastSeen = 0
      for (const [member, expiry] of members) {
        if (expiry > now) continue
        lastSeen = Math.max(lastSeen, expiry)
        members.delete(member)
      }
      if (st.assign.has(room) && lastSeen > (st.used.get(room) ?? 0)) st.used.set(room, lastSeen)
      if (members.size === 0) st.presence.delete(room)
    }
    for (const room of st.assign.keys()) {
      if (st.presence.has(room) || now - (st.used.get(room) ?? 0) < idleMs) continue
      st.assign.delete(room)
      st.used.delete(room)
      removed.push(room)
    }
    return removed
  }

  private assignment(pool: string, st: PoolState, room: string, node: string, now: number): Assignment {
    return { pool, room, node, users: this.liveUsers(st, room, now).size, lastUsedAt: st.used.get(room) ?? 0 }
  }

  private liveUsers(st: PoolState, room: string, now: number, into = new Set<string>()): Set<string> {
    for (const [member, expiry] of st.presence.get(room) ?? []) if (expiry > now) into.add(memberUser(member))
    return into
  }

  private loads(st: PoolState, now: number): (node: string) => NodeLoad {
    const users = new Map<string, Set<string>>()
    const rooms = new Map<string, number>()
    for (const [room, node] of st.assign) {
      rooms.set(node, (rooms.get(node) ?? 0) + 1)
      let set = users.get(node)
      if (!set) users.set(node, (set = new Set()))
      this.liveUsers(st, room, now, set)
    }
    return (node) => ({ users: users.get(node)?.size ?? 0, rooms: rooms.get(node) ?? 0 })
  }

  private members(st: PoolState, room: string): Map<string, number> {
    let m = st.presence.get(room)
    if (!m) st.presence.set(room, (m = new Map()))
    return m
  }

  private state(pool: string): PoolState {
    let st = this.pools.get(pool)
    if (!st) this.pools.set(pool, (st = { assign: new Map(), used: new Map(), presence: new Map() }))
    return st
  }
}
