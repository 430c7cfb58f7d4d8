/**
 * The shared pools as the last config reload left them. Each pool keeps one
 * spec object, updated in place, so the presence entries and the cleaner that
 * hold it see a reload at once. A node a reload takes out of a pool drains:
 * it takes no new room, and the rooms on it stay until they end (see
 * DrainingStore). A restart forgets which nodes drain.
 */
import type { RoomsConfig } from '../config/rooms-schema.js'
import { RoomgateError } from '../errors.js'
import type { SharedPoolSpec } from './types.js'

export class SharedPools {
  /** The shared pools by name. */
  readonly specs = new Map<string, SharedPoolSpec>()
  /** The nodes a reload took out of a pool, by pool (a pool without any is absent). */
  readonly draining = new Map<string, Set<string>>()
  private serverPool: string

  constructor(rooms: RoomsConfig) {
    this.serverPool = rooms.serverPool
    this.reload(rooms)
  }

  reload(rooms: RoomsConfig): void {
    this.serverPool = rooms.serverPool
    for (const [name, p] of Object.entries(rooms.pools)) {
      if (p.strategy === 'exclusive') continue
      const spec = this.specs.get(name)
      if (!spec) {
        this.specs.set(name, { name, strategy: p.strategy, nodes: p.nodes, capacity: p.capacity })
        continue
      }
      const draining = new Set([...(this.draining.get(name) ?? []), ...spec.nodes].filter((node) => !p.nodes.includes(node)))
      if (draining.size > 0) this.draining.set(name, draining)
      else this.draining.delete(name)
      Object.assign(spec, { strategy: p.strategy, nodes: p.nodes, capacity: p.capacity })
    }
    for (const name of this.specs.keys()) {
      if (rooms.pools[name] === undefined || rooms.pools[name].strategy === 'exclusive') {
        this.specs.delete(name)
        this.draining.delete(name)
      }
    }
  }

  /** The shared pool a request names, or the server pool; 400 for anything else. */
  poolOf(name: unknown): SharedPoolSpec {
    const pool = this.specs.get(typeof name === 'string' ? name : this.serverPool)
    if (pool && (name === undefined || typeof name === 'string')) return pool
    throw new RoomgateError('pool_not_shared', { pool: JSON.stringify(name) })
  }
}
