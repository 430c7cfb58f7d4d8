/**
 * The shared store as the rooms capability uses it, for nodes a reload took
 * out of their pool (SharedPools.draining). The store keeps a room on its
 * node only while the node is in the pool's list, and moves it otherwise
 * (what a restart with fewer nodes does). Here a room still on a draining
 * node is placed with that node as its pool's only one, so it stays; a new
 * room never goes there. A pool without draining nodes costs nothing more.
 * That one read before the placement is not atomic with it: a room the
 * cleaner drops between the two is placed once more on its draining node.
 */
import type { Assignment, PlaceResult, PresenceEntry, SharedPoolSpec, SharedStore } from './types.js'

export class DrainingStore implements SharedStore {
  constructor(
    private readonly store: SharedStore,
    private readonly draining: ReadonlyMap<string, ReadonlySet<string>>,
  ) {}

  async place(pool: SharedPoolSpec, room: string, presence?: { user: string; holder: string; ttlMs: number }, prefer?: string): Promise<PlaceResult> {
    const draining = this.draining.get(pool.name)
    if (draining) {
      const current = await this.store.get(pool.name, room)
      if (current && draining.has(current.node)) return this.store.place({ ...pool, nodes: [current.node] }, room, presence)
    }
    return this.store.place(pool, room, presence, prefer)
  }

  /** The draining nodes' counts are rebuilt too: a node added back must not start with stale ones. */
  recount(pool: SharedPoolSpec): Promise<void> {
    const draining = this.draining.get(pool.name)
    return this.store.recount(draining ? { ...pool, nodes: [...pool.nodes, ...draining] } : pool)
  }

  release(entry: PresenceEntry): Promise<void> {
    return this.store.release(entry)
  }

  touch(entries: readonly PresenceEntry[], ttlMs: number): Promise<PresenceEntry[]> {
    return this.store.touch(entries, ttlMs)
  }

  list(pool: string): Promise<Assignment[]> {
    return this.store.list(pool)
  }

  get(pool: string, room: string): Promise<Assignment | undefined> {
    return this.store.get(pool, room)
  }

  clean(pool: string, idleMs: number): Promise<string[]> {
    return this.store.clean(pool, idleMs)
  }

  presenceKey(): Promise<string> {
    return this.store.presenceKey()
  }
}
