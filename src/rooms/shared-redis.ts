import type { Redis } from 'ioredis'
import { keys } from '../engine/keys.js'
import { defineScript } from '../engine/scripts.js'
import { presenceMember } from './choose.js'
import { newPresenceKey } from './leave-tokens.js'
import { CLEAN_LUA, LIST_LUA, PLACE_LUA, RECOUNT_LUA, RELEASE_LUA, TOUCH_LUA } from './shared-lua.js'
import type { Assignment, PlaceResult, PresenceEntry, SharedPoolSpec, SharedStore } from './types.js'

/** Rooms the cleaner visits per tick at most (a backlog clears over the next ticks). */
export const CLEAN_BATCH = 1_000

/** Seed 003's assignments and presence in Redis; every change is one Lua script. */
export class RedisSharedStore implements SharedStore {
  private readonly placeScript
  private readonly releaseScript
  private readonly touchScript
  private readonly cleanScript
  private readonly listScript
  private readonly recountScript

  constructor(private readonly redis: Redis) {
    this.placeScript = defineScript<[string, number]>(redis, 'rgPlace', PLACE_LUA, 4)
    this.releaseScript = defineScript<number>(redis, 'rgRelease', RELEASE_LUA, 3)
    this.touchScript = defineScript<number[]>(redis, 'rgTouch', TOUCH_LUA, 0)
    this.cleanScript = defineScript<string[]>(redis, 'rgClean', CLEAN_LUA, 4)
    this.listScript = defineScript<Array<string | number>>(redis, 'rgList', LIST_LUA, 2)
    this.recountScript = defineScript<number>(redis, 'rgRecount', RECOUNT_LUA, 3)
  }

  async place(
    pool: SharedPoolSpec,
    room: string,
    presence?: { user: string; holder: string; ttlMs: number },
    prefer?: string,
  ): Promise<PlaceResult> {
    const [node, created] = await this.placeScript(
      keys.assignments(pool.name),
      keys.lastUsed(pool.name),
      keys.nodeRooms(pool.name),
      keys.due(pool.name),
      room,
      keys.presencePrefix(pool.name),
      keys.nodeUsersPrefix(pool.name),
      pool.strategy,
      pool.capacity,
      presence ? presenceMember(presence.user, presence.holder) : '',
      Math.round(presence?.ttlMs ?? 0),
      prefer ?? '',
      ...pool.nodes,
    )
    return { node, created: created === 1 }
  }

  async release(e: PresenceEntry): Promise<void> {
    await this.releaseScript(
      keys.assignments(e.pool),
      keys.lastUsed(e.pool),
      keys.due(e.pool),
      e.room,
      keys.presence(e.pool, e.room),
      presenceMember(e.user, e.holder),
      keys.nodeUsersPrefix(e.pool),
    )
  }

  /** SET NX GET: the first instance's key wins, atomically, and every instance reads it in one call. */
  async presenceKey(): Promise<string> {
    const fresh = newPresenceKey()
    return (await this.redis.set(keys.presenceKey, fresh, 'NX', 'GET')) ?? fresh
  }

  async touch(entries: readonly PresenceEntry[], ttlMs: number): Promise<PresenceEntry[]> {
    if (entries.length === 0) return []
    const args: string[] = []
    for (const e of entries) {
      args.push(
        keys.assignments(e.pool),
        keys.due(e.pool),
        e.room,
        keys.presence(e.pool, e.room),
        presenceMember(e.user, e.holder),
        keys.nodeUsersPrefix(e.pool),
      )
    }
    const orphans = await this.touchScript(Math.round(ttlMs), ...args)
    return orphans.map((i) => entries[i - 1]!)
  }

  async list(pool: string): Promise<Assignment[]> {
    return this.read(pool, '')
  }

  async get(pool: string, room: string): Promise<Assignment | undefined> {
    return (await this.read(pool, room))[0]
  }

  async clean(pool: string, idleMs: number): Promise<string[]> {
    return this.cleanScript(
      keys.assignments(pool),
      keys.lastUsed(pool),
      keys.nodeRooms(pool),
      keys.due(pool),
      keys.presencePrefix(pool),
      keys.nodeUsersPrefix(pool),
      Math.round(idleMs),
      CLEAN_BATCH,
    )
  }

  async recount(pool: SharedPoolSpec): Promise<void> {
    await this.recountScript(
      keys.assignments(pool.name),
      keys.nodeRooms(pool.name),
      keys.due(pool.name),
      keys.presencePrefix(pool.name),
      keys.nodeUsersPrefix(pool.name),
      ...pool.nodes,
    )
  }

  private async read(pool: string, room: string): Promise<Assignment[]> {
    const flat = await this.listScript(keys.assignments(pool), keys.lastUsed(pool), keys.presencePrefix(pool), room)
    const out: Assignment[] = []
    for (let i = 0; i < flat.length; i += 4) {
      out.push({
        pool,
        room: String(flat[i]),
        node: String(flat[i + 1]),
        users: Number(flat[i + 2]),
        lastUsedAt: Number(flat[i + 3]),
      })
    }
    return out
  }
}
