import { chooseNode, memberUser, presenceMember } from './choose.js'
import { newPresenceKey } from './leave-tokens.js'
import type { Assignment, PlaceResult, PresenceEntry, SharedPoolSpec, SharedStore } from './types.js'

interface PoolState {
  assign: Map<string, string>
  used: Map<string, number>
  /** room → member (`user\nholder`) → expiry, epoch ms */
  presence: Map<string, Map<string, number>>
  /** node → user → entries in the node's rooms (size = distinct users) */
  nodeUsers: Map<string, Map<string, number>>
  /** node → rooms */
  nodeRooms: Map<string, number>
}

/**
 * Seed 003's assignments and presence in one process; each method is atomic
 * (it never awaits). Like the Redis store, it keeps per-node counts as entries
 * come and go, so a placement reads each node's load in O(1).
 */
export class MemorySharedStore implements SharedStore {
  private readonly pools = new Map<string, PoolState>()
  private readonly key = newPresenceKey()

  constructor(private readonly now: () => number = Date.now) {}

  async place(
    pool: SharedPoolSpec,
    room: string,
    presence?: { user: string; holder: string; ttlMs: number },
    prefer?: string,
  ): Promise<PlaceResult> {
    const st = this.state(pool.name)
    const now = this.now()
    let node = st.assign.get(room)
    let created = false
    if (node === undefined || !pool.nodes.includes(node)) {
      const chosen =
        prefer !== undefined && pool.nodes.includes(prefer)
          ? prefer
          : chooseNode(pool, (n) => ({ users: st.nodeUsers.get(n)?.size ?? 0, rooms: st.nodeRooms.get(n) ?? 0 }))
      const members = [...(st.presence.get(room)?.keys() ?? [])]
      if (node !== undefined) {
        bump(st.nodeRooms, node, -1)
        for (const m of members) this.count(st, node, m, -1)
      }
      for (const m of members) this.count(st, chosen, m, 1)
      st.assign.set(room, chosen)
      bump(st.nodeRooms, chosen, 1)
      node = chosen
      created = true
    }
    st.used.set(room, now)
    if (presence) this.add(st, room, presenceMember(presence.user, presence.holder), now + presence.ttlMs)
    return { node, created }
  }

  async release(e: PresenceEntry): Promise<void> {
    const st = this.state(e.pool)
    const members = st.presence.get(e.room)
    const member = presenceMember(e.user, e.holder)
    const node = st.assign.get(e.room)
    if (members?.delete(member) && node !== undefined) this.count(st, node, member, -1)
    if (members?.size === 0) st.presence.delete(e.room)
    if (node !== undefined) st.used.set(e.room, this.now())
  }

  async touch(entries: readonly PresenceEntry[], ttlMs: number): Promise<PresenceEntry[]> {
    const expiry = this.now() + ttlMs
    const orphans: PresenceEntry[] = []
    for (const e of entries) {
      const st = this.state(e.pool)
      if (this.add(st, e.room, presenceMember(e.user, e.holder), expiry) && !st.assign.has(e.room)) orphans.push(e)
    }
    return orphans
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
      const node = st.assign.get(room)
      let lastSeen = 0
      for (const [member, expiry] of members) {
        if (expiry > now) continue
        lastSeen = Math.max(lastSeen, expiry)
        members.delete(member)
        if (node !== undefined) this.count(st, node, member, -1)
      }
      if (node !== undefined && lastSeen > (st.used.get(room) ?? 0)) st.used.set(room, lastSeen)
      if (members.size === 0) st.presence.delete(room)
    }
    for (const [room, node] of st.assign) {
      if (st.presence.has(room) || now - (st.used.get(room) ?? 0) < idleMs) continue
      st.assign.delete(room)
      st.used.delete(room)
      bump(st.nodeRooms, node, -1)
      removed.push(room)
    }
    return removed
  }

  async recount(pool: SharedPoolSpec): Promise<void> {
    const st = this.state(pool.name)
    st.nodeUsers.clear()
    st.nodeRooms.clear()
    for (const [room, node] of st.assign) {
      bump(st.nodeRooms, node, 1)
      for (const member of st.presence.get(room)?.keys() ?? []) this.count(st, node, member, 1)
    }
  }

  /** Records an entry; true when it was not there. */
  private add(st: PoolState, room: string, member: string, expiry: number): boolean {
    let members = st.presence.get(room)
    if (!members) st.presence.set(room, (members = new Map()))
    const isNew = !members.has(member)
    members.set(member, expiry)
    const node = st.assign.get(room)
    if (isNew && node !== undefined) this.count(st, node, member, 1)
    return isNew
  }

  private count(st: PoolState, node: string, member: string, by: number): void {
    let users = st.nodeUsers.get(node)
    if (!users) st.nodeUsers.set(node, (users = new Map()))
    bump(users, memberUser(member), by)
  }

  private assignment(pool: string, st: PoolState, room: string, node: string, now: number): Assignment {
    const users = new Set<string>()
    for (const [member, expiry] of st.presence.get(room) ?? []) if (expiry > now) users.add(memberUser(member))
    return { pool, room, node, users: users.size, lastUsedAt: st.used.get(room) ?? 0 }
  }

  async presenceKey(): Promise<string> {
    return this.key
  }

  private state(pool: string): PoolState {
    let st = this.pools.get(pool)
    if (!st) {
      st = { assign: new Map(), used: new Map(), presence: new Map(), nodeUsers: new Map(), nodeRooms: new Map() }
      this.pools.set(pool, st)
    }
    return st
  }
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by
  if (n > 0) counts.set(key, n)
  else counts.delete(key)
}
