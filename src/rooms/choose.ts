/**
 * Which node a new room goes to (the memory store uses this; the Redis
 * script does the same arithmetic). `least-loaded`: fewest distinct users,
 * ties to the node with fewer rooms, then config order. `fill`: the first node
 * (in order) under capacity; when every node is full, the least loaded.
 */
import type { SharedPoolSpec } from './types.js'

export interface NodeLoad {
  users: number
  rooms: number
}

export function chooseNode(pool: SharedPoolSpec, load: (node: string) => NodeLoad): string {
  if (pool.strategy === 'fill') {
    for (const node of pool.nodes) if (load(node).users < pool.capacity) return node
  }
  let best = pool.nodes[0]!
  let bestLoad = load(best)
  for (const node of pool.nodes.slice(1)) {
    const l = load(node)
    if (l.users < bestLoad.users || (l.users === bestLoad.users && l.rooms < bestLoad.rooms)) {
      best = node
      bestLoad = l
    }
  }
  return best
}

/** Presence entries are stored as `user\nholder` (ids contain no control characters). */
export const presenceMember = (user: string, holder: string): string => `${user}\n${holder}`
export const memberUser = (member: string): string => member.slice(0, member.indexOf('\n'))
