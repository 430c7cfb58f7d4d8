import type { Redis } from 'ioredis'
import { LEGACY_ROOM_PREFIX, type RedisKeys } from '../engine/keys.js'
import type { ConfirmWrite } from '../engine/replicas.js'
import { defineScript } from '../engine/scripts.js'
import { REMOVE_IF_LUA, SETTLE_LUA, STOP_LUA, TAKE_LUA, WRITE_PROGRESS_LUA } from './exclusive-lua.js'
import type { ExclusiveStore, Mapping, StartResult, StopResult } from './types.js'

/** Keys SCAN looks at per call while adopting mappings. */
const SCAN_COUNT = 1_000

/** Parses seed 000's `node|state|duration|progress` (missing fields read as empty). */
export function parseMapping(room: string, value: string): Mapping {
  const [node = '', state = '', duration = '', progress = ''] = value.split('|')
  return { room, node, state: state === 'stopped' ? 'stopped' : 'started', duration, progress }
}

/**
 * A taking younger than this whose mapping is missing is not stale: its
 * instance is between taking the node and writing the mapping.
 */
const TAKING_GRACE_MS = 10_000

/**
 * Seed 000's mappings in Redis, exactly as the seed shows them. The mapping
 * `room:<name>` is the truth; the pool's index (node → room) says which nodes
 * are taken, so a start finds a free node in one call. A room's mapping and
 * its pool's index are in different slots on a Redis Cluster, so a start is
 * three steps, each atomic: take a node in the index, write the mapping
 * (SET NX: a concurrent start of the same room wins or loses here, and the
 * loser lets its node go), confirm the taking. A node whose holder has no
 * mapping on it (deleted by hand, or an instance died between the steps) is
 * freed when a start finds no other node, once its taking is older than
 * TAKING_GRACE_MS.
 */
export class RedisExclusiveStore implements ExclusiveStore {
  private readonly takeScript
  private readonly settleScript
  private readonly stopScript
  private readonly writeProgressScript
  private readonly removeIfScript

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    /** Waits for replicas (redis.waitReplicas) before a new mapping is acknowledged. */
    private readonly confirm: ConfirmWrite,
    /** The connections to scan for mappings: the one Redis, or each master of a cluster. */
    private readonly masters: () => Redis[],
  ) {
    this.takeScript = defineScript<string[]>(redis, 'rgRoomTake', TAKE_LUA, 2)
    this.settleScript = defineScript<number>(redis, 'rgRoomSettle', SETTLE_LUA, 2)
    this.stopScript = defineScript<[string, string?]>(redis, 'rgRoomStop', STOP_LUA, 1)
    this.writeProgressScript = defineScript<number>(redis, 'rgRoomProgress', WRITE_PROGRESS_LUA, 1)
    this.removeIfScript = defineScript<number>(redis, 'rgRoomRemoveIf', REMOVE_IF_LUA, 1)
  }

  async start(pool: string, room: string, nodes: readonly string[], retried = false): Promise<StartResult> {
    const current = await this.get(room)
    if (current) {
      // It may be the retry of a start whose wait for replicas failed.
      await this.confirm(this.keys.legacyRoom(room))
      return { status: current.state === 'stopped' ? 'stopped' : 'existing', node: current.node }
    }
    const node = await this.take(pool, room, nodes)
    if (node === undefined) return { status: 'full' }
    if ((await this.redis.set(this.keys.legacyRoom(room), `${node}|started||`, 'NX')) === 'OK') {
      await this.settle(pool, node, room, room, 0)
      // Both halves of the placement must survive a failover: the mapping, and the pool's
      // index that keeps its node from other rooms (in another slot, on another master).
      try {
        await Promise.all([this.confirm(this.keys.legacyRoom(room)), this.confirm(this.keys.exclusiveNodes(pool))])
      } catch (err) {
        // Not acknowledged: undone, so a retry starts the room again (its gateway included)
        // instead of finding it started on a gateway that was never told.
        await this.removeIf(pool, room, node, 'started').catch(() => undefined)
        throw err
      }
      return { status: 'created', node }
    }
    // Another start of this room wrote its mapping first.
    const won = await this.get(room)
    if (won?.node !== node) await this.settle(pool, node, room, '', 0)
    if (won) return { status: won.state === 'stopped' ? 'stopped' : 'existing', node: won.node }
    return retried ? { status: 'full' } : this.start(pool, room, nodes, true)
  }

  async stop(room: string): Promise<StopResult> {
    const [status, value] = await this.stopScript(this.keys.legacyRoom(room))
    if (status === 'missing' || value === undefined) return { status: 'missing' }
    return { status: status as 'stopped' | 'already-stopped', mapping: parseMapping(room, value) }
  }

  async get(room: string): Promise<Mapping | undefined> {
    const value = await this.redis.get(this.keys.legacyRoom(room))
    return value === null ? undefined : parseMapping(room, value)
  }

  async list(pool: string): Promise<Mapping[]> {
    const entries = Object.entries(await this.redis.hgetall(this.keys.exclusiveNodes(pool)))
    const mappings = await Promise.all(entries.map(([, room]) => this.get(room)))
    return mappings.filter((m, i): m is Mapping => m !== undefined && m.node === entries[i]![0])
  }

  async writeProgress(room: string, node: string, duration: string, progress: string): Promise<boolean> {
    return (await this.writeProgressScript(this.keys.legacyRoom(room), node, duration, progress)) === 1
  }

  async removeIf(pool: string, room: string, node: string, state: Mapping['state']): Promise<boolean> {
    if ((await this.removeIfScript(this.keys.legacyRoom(room), node, state)) !== 1) return false
    await this.settle(pool, node, room, '', 0)
    return true
  }

  async adopt(pool: string, nodes: readonly string[]): Promise<{ adopted: Mapping[]; conflicts: Mapping[] }> {
    const inPool = new Set(nodes)
    const holders = new Map(Object.entries(await this.redis.hgetall(this.keys.exclusiveNodes(pool))))
    const adopted: Mapping[] = []
    const conflicts: Mapping[] = []
    for (const master of this.masters()) {
      let cursor = '0'
      do {
        const [next, found] = await master.scan(cursor, 'MATCH', `${LEGACY_ROOM_PREFIX}*`, 'COUNT', SCAN_COUNT)
        cursor = next
        const mappings = await Promise.all(found.map((k) => this.get(k.slice(LEGACY_ROOM_PREFIX.length))))
        for (const m of mappings) {
          if (!m || !inPool.has(m.node)) continue
          const holder = holders.get(m.node)
          if (holder === m.room) continue
          if (holder !== undefined && (await this.get(holder))?.node === m.node) {
            conflicts.push(m)
          } else if (await this.settle(pool, m.node, holder ?? '', m.room, TAKING_GRACE_MS)) {
            holders.set(m.node, m.room)
            adopted.push(m)
          }
        }
      } while (cursor !== '0')
    }
    return { adopted, conflicts }
  }

  /** Takes a node for `room`; frees stale holders once if none is free. */
  private async take(pool: string, room: string, nodes: readonly string[]): Promise<string | undefined> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const [status, ...rest] = await this.takeScript(this.keys.exclusiveNodes(pool), this.keys.exclusiveTaken(pool), room, TAKING_GRACE_MS, ...nodes)
      if (status === 'taken') return rest[0]
      let freed = false
      for (let i = 0; i < rest.length; i += 2) {
        const node = rest[i]!
        const holder = rest[i + 1]!
        if ((await this.get(holder))?.node === node) continue
        if (await this.settle(pool, node, holder, '', TAKING_GRACE_MS)) freed = true
      }
      if (!freed) return undefined
    }
    return undefined
  }

  /** Sets `node`'s holder to `to` ('' frees it) if it is still `from`; with a grace, only if its taking is that old. */
  private async settle(pool: string, node: string, from: string, to: string, graceMs: number): Promise<boolean> {
    return (await this.settleScript(this.keys.exclusiveNodes(pool), this.keys.exclusiveTaken(pool), node, from, to, graceMs)) === 1
  }
}
