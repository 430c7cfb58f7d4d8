/**
 * The dashboard's rooms section: every configured pool with its strategy and
 * nodes, and per node its rooms, users and load. Read from the same stores as
 * GET /rooms and GET /status (so it shows the cluster, not one instance).
 * Load is users / capacity on a shared pool (users summed over the node's
 * rooms: a user in two rooms of one node counts twice here), and in use or
 * free on an exclusive pool.
 */
import type { PoolConfig, RoomsConfig } from '../config/rooms-schema.js'
import type { ExclusiveStore, SharedStore } from '../rooms/types.js'

/** Rooms listed per node; the rest are only counted (the frame stays small with thousands of rooms). */
export const MAX_ROOMS_PER_NODE = 50

export interface RoomView {
  room: string
  users: number
  state: string
  /** Exclusive pools: seed 000's recording_duration and transcript_progress. */
  duration?: string
  progress?: string
}

export interface NodeView {
  node: string
  users: number
  /** 0 to 1 (may pass 1 on a least-loaded pool past its capacity). */
  load: number
  roomCount: number
  rooms: RoomView[]
  /** The node holds rooms but is no longer in the pool's config. */
  unlisted?: true
}

export interface PoolView {
  name: string
  strategy: PoolConfig['strategy']
  capacity: number
  /** `legacy`: behind seed 000's API; `server`: behind POST /v2/room_server. */
  role: 'legacy' | 'server' | null
  rooms: number
  users: number
  nodes: NodeView[]
}

export interface RoomsSources {
  config: RoomsConfig
  exclusive: ExclusiveStore
  shared: SharedStore
}

export async function roomsView(s: RoomsSources): Promise<PoolView[]> {
  const pools = Object.entries(s.config.pools)
  return Promise.all(
    pools.map(async ([name, pool]): Promise<PoolView> => {
      const rooms: Array<{ node: string; view: RoomView }> =
        pool.strategy === 'exclusive'
          ? (await s.exclusive.list(name)).map((m) => ({
              node: m.node,
              view: { room: m.room, users: 0, state: m.state, duration: m.duration, progress: m.progress },
            }))
          : (await s.shared.list(name)).map((a) => ({
              node: a.node,
              view: { room: a.room, users: a.users, state: a.users > 0 ? 'active' : 'idle' },
            }))
      const role = name === s.config.legacyPool ? 'legacy' : name === s.config.serverPool ? 'server' : null
      return { name, strategy: pool.strategy, capacity: pool.capacity, role, ...nodesOf(pool, rooms) }
    }),
  )
}

function nodesOf(pool: PoolConfig, rooms: ReadonlyArray<{ node: string; view: RoomView }>) {
  const byNode = new Map<string, RoomView[]>(pool.nodes.map((n) => [n, []]))
  for (const { node, view } of rooms) {
    let list = byNode.get(node)
    if (!list) byNode.set(node, (list = []))
    list.push(view)
  }
  const listed = new Set(pool.nodes)
  let users = 0
  const nodes = [...byNode].map(([node, list]): NodeView => {
    const nodeUsers = list.reduce((n, r) => n + r.users, 0)
    users += nodeUsers
    list.sort((a, b) => b.users - a.users || a.room.localeCompare(b.room))
    const load = pool.strategy === 'exclusive' ? (list.length > 0 ? 1 : 0) : nodeUsers / pool.capacity
    return {
      node,
      users: nodeUsers,
      load: Math.round(load * 1000) / 1000,
      roomCount: list.length,
      rooms: list.slice(0, MAX_ROOMS_PER_NODE),
      ...(listed.has(node) ? {} : { unlisted: true as const }),
    }
  })
  return { rooms: rooms.length, users, nodes }
}
