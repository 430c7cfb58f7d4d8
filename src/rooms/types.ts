/**
 * What the rooms capability needs from shared state: one interface for
 * exclusive pools (seed 000) and one for shared pools (seed 003). Memory and
 * Redis implement both and pass one contract suite (test/contracts/).
 */

/** Seed 000's mapping: `room:{name}` = `node|state|duration|progress`. */
export interface Mapping {
  room: string
  node: string
  state: 'started' | 'stopped'
  duration: string
  progress: string
}

export type StartResult =
  | { status: 'created' | 'existing'; node: string }
  | { status: 'stopped'; node: string }
  | { status: 'full' }

export type StopResult = { status: 'stopped'; mapping: Mapping } | { status: 'already-stopped'; mapping: Mapping } | { status: 'missing' }

export interface ExclusiveStore {
  /** Atomically: the room's node if mapped, else the first node (in order) that no mapping uses. */
  start(pool: string, room: string, nodes: readonly string[]): Promise<StartResult>
  /** Marks a started room stopped (kept, progress kept). */
  stop(room: string): Promise<StopResult>
  get(room: string): Promise<Mapping | undefined>
  list(pool: string): Promise<Mapping[]>
  /** Monitor only: rewrites duration and progress if the room is still on `node`; keeps its state. */
  writeProgress(room: string, node: string, duration: string, progress: string): Promise<boolean>
  /** Deletes the mapping (freeing its node) if it is still on `node` in `state`. */
  removeIf(pool: string, room: string, node: string, state: Mapping['state']): Promise<boolean>
  /**
   * Finds mappings written outside roomgate (by hand, by seed 000's own
   * service, or before the pool was renamed) whose node is in `nodes`, and
   * makes them hold their node. Returns those adopted, and the rooms whose
   * node another mapping already holds.
   */
  adopt(pool: string, nodes: readonly string[]): Promise<{ adopted: Mapping[]; conflicts: Mapping[] }>
}

export interface SharedPoolSpec {
  name: string
  strategy: 'least-loaded' | 'fill'
  nodes: readonly string[]
  capacity: number
}

/** One entry of presence: `user` held by `holder` (an instance id, or `http`). */
export interface PresenceEntry {
  pool: string
  room: string
  user: string
  holder: string
}

export interface Assignment {
  pool: string
  room: string
  node: string
  /** Distinct users with live presence. */
  users: number
  /** Epoch milliseconds. */
  lastUsedAt: number
}

export interface PlaceResult {
  node: string
  created: boolean
}

export interface SharedStore {
  /**
   * Atomically: the room's node (sticky), or for a new room `prefer` when it
   * is in the pool, else a node chosen by the pool's strategy. Marks the room
   * used now; with `presence`, also records it (expiring after `ttlMs`, an
   * integer, unless touched).
   */
  place(
    pool: SharedPoolSpec,
    room: string,
    presence?: { user: string; holder: string; ttlMs: number },
    prefer?: string,
  ): Promise<PlaceResult>
  /** Ends one presence entry; the room counts as used now. */
  release(entry: PresenceEntry): Promise<void>
  /**
   * Extends presence entries by `ttlMs` (recreating any that expired). Returns
   * the entries recreated in a room that has no assignment any more (dropped
   * while their holder could not renew them): the holder must place them again.
   */
  touch(entries: readonly PresenceEntry[], ttlMs: number): Promise<PresenceEntry[]>
  list(pool: string): Promise<Assignment[]>
  get(pool: string, room: string): Promise<Assignment | undefined>
  /** Drops expired presence, and the assignment of rooms idle for `idleMs`. Returns the rooms dropped. */
  clean(pool: string, idleMs: number): Promise<string[]>
  /** Rebuilds the per-node load counts from the assignments and presence (heals drift). */
  recount(pool: SharedPoolSpec): Promise<void>
  /** A random key every instance shares, created on first use: it signs HTTP presence leave tokens. */
  presenceKey(): Promise<string>
}
