import type { Redis } from 'ioredis'
import { keys, LEGACY_ROOM_PREFIX } from '../engine/keys.js'
import { defineScript } from '../engine/scripts.js'
import { ADOPT_LUA, REMOVE_IF_LUA, START_LUA, STOP_LUA, WRITE_PROGRESS_LUA } from './exclusive-lua.js'
import type { ExclusiveStore, Mapping, StartResult, StopResult } from './types.js'

/** Keys SCAN looks at per call while adopting mappings. */
const SCAN_COUNT = 1_000

/** Parses seed 000's `node|state|duration|progress` (missing fields read as empty). */
export function parseMapping(room: string, value: string): Mapping {
  const [node = '', state = '', duration = '', progress = ''] = value.split('|')
  return { room, node, state: state === 'stopped' ? 'stopped' : 'started', duration, progress }
}

/** Seed 000's mappings in Redis, exactly as the seed shows them, changed only by Lua scripts. */
export class RedisExclusiveStore implements ExclusiveStore {
  private readonly startScript
  private readonly stopScript
  private readonly writeProgressScript
  private readonly removeIfScript
  private readonly adoptScript

  constructor(private readonly redis: Redis) {
    this.startScript = defineScript<[string, string?]>(redis, 'rgRoomStart', START_LUA, 2)
    this.stopScript = defineScript<[string, string?]>(redis, 'rgRoomStop', STOP_LUA, 1)
    this.writeProgressScript = defineScript<number>(redis, 'rgRoomProgress', WRITE_PROGRESS_LUA, 1)
    this.removeIfScript = defineScript<number>(redis, 'rgRoomRemoveIf', REMOVE_IF_LUA, 2)
    this.adoptScript = defineScript<string[]>(redis, 'rgRoomAdopt', ADOPT_LUA, 1)
  }

  async start(pool: string, room: string, nodes: readonly string[]): Promise<StartResult> {
    const [status, node] = await this.startScript(keys.legacyRoom(room), keys.exclusiveNodes(pool), room, LEGACY_ROOM_PREFIX, ...nodes)
    if (status === 'full' || node === undefined) return { status: 'full' }
    return { status: status as 'created' | 'existing' | 'stopped', node }
  }

  async stop(room: string): Promise<StopResult> {
    const [status, value] = await this.stopScript(keys.legacyRoom(room))
    if (status === 'missing' || value === undefined) return { status: 'missing' }
    return { status: status as 'stopped' | 'already-stopped', mapping: parseMapping(room, value) }
  }

  async get(room: string): Promise<Mapping | undefined> {
    const value = await this.redis.get(keys.legacyRoom(room))
    return value === null ? undefined : parseMapping(room, value)
  }

  async list(pool: string): Promise<Mapping[]> {
    const used = await this.redis.hgetall(keys.exclusiveNodes(pool))
    const entries = Object.entries(used)
    if (entries.length === 0) return []
    const values = await this.redis.mget(entries.map(([, room]) => keys.legacyRoom(room)))
    const out: Mapping[] = []
    entries.forEach(([node, room], i) => {
      const value = values[i]
      if (value == null) return
      const m = parseMapping(room, value)
      if (m.node === node) out.push(m)
    })
    return out
  }

  async writeProgress(room: string, node: string, duration: string, progress: string): Promise<boolean> {
    return (await this.writeProgressScript(keys.legacyRoom(room), node, duration, progress)) === 1
  }

  async removeIf(pool: string, room: string, node: string, state: Mapping['state']): Promise<boolean> {
    return (await this.removeIfScript(keys.legacyRoom(room), keys.exclusiveNodes(pool), node, state, room)) === 1
  }

  async adopt(pool: string, nodes: readonly string[]): Promise<{ adopted: Mapping[]; conflicts: Mapping[] }> {
    const adopted: string[] = []
    const conflicts: string[] = []
    let cursor = '0'
    do {
      const [next, found] = await this.redis.scan(cursor, 'MATCH', `${LEGACY_ROOM_PREFIX}*`, 'COUNT', SCAN_COUNT)
      cursor = next
      const rooms = found.map((k) => k.slice(LEGACY_ROOM_PREFIX.length))
      if (rooms.length === 0) continue
      const out = await this.adoptScript(keys.exclusiveNodes(pool), LEGACY_ROOM_PREFIX, nodes.length, ...nodes, ...rooms)
      const gap = out.indexOf('')
      adopted.push(...out.slice(0, gap))
      conflicts.push(...out.slice(gap + 1))
    } while (cursor !== '0')
    const read = async (rooms: string[]) => (await Promise.all(rooms.map((r) => this.get(r)))).filter((m): m is Mapping => m !== undefined)
    return { adopted: await read(adopted), conflicts: await read(conflicts) }
  }

}
