import type { Redis } from 'ioredis'
import type { RedisKeys } from '../engine/keys.js'
import type { ConfirmWrite } from '../engine/replicas.js'
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

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    /** Waits for replicas (redis.waitReplicas) before a new placement is acknowledged. */
    private readonly confirm: ConfirmWrite,
  ) {
    this.placeScript = defineScript<[string, number]>(redis, 'rgPlace', PLACE_LUA, 4)
    this.releaseScript = defineScript<number>(redis, 'rgRelease', RELEASE_LUA, 3)
    this.touchScript = defineScript<number[]>(redis, 'rgTouch', TOUCH_LUA, 1)
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
      this.keys.assignments(pool.name),
      this.keys.lastUsed(pool.name),
      this.keys.nodeRooms(pool.name),
      this.keys.due(pool.name),
      room,
      this.keys.presencePrefix(pool.name),
      this.keys.nodeUsersPrefix(pool.name),
      pool.strategy,
      pool.capacity,
      presence ? presenceMember(presence.user, presence.holder) : '',
      Math.round(presence?.ttlMs ?? 0),
      prefer ?? '',
      ...pool.nodes,
    )
    // Every answer waits, a sticky one too: it may be the retry of a placement whose wait failed.
    await this.confirm(this.keys.assignments(pool.name))
    return { node, created: created === 1 }
  }

  async release(e: PresenceEntry): Promise<void> {
    await this.releaseScript(
      this.keys.assignments(e.pool),
      this.keys.lastUsed(e.pool),
      this.keys.due(e.pool),
      e.room,
      this.keys.presence(e.pool, e.room),
      presenceMember(e.user, e.holder),
      this.keys.nodeUsersPrefix(e.pool),
    )
  }

  /** SET NX GET: the first instance's key wins, atomically, and every instance reads it in one call. */
  async presenceKey(): Promise<string> {
    const fresh = newPresenceKey()
    return (await this.redis.set(this.keys.presenceKey, fresh, 'NX', 'GET')) ?? fresh
  }

  async touch(entries: readonly PresenceEntry[], ttlMs: number): Promise<PresenceEntry[]> {
    // One call per pool: a pool's keys share a slot on a Redis Cluster; its assignments key routes the call.
    const byPool = new Map<string, PresenceEntry[]>()
    for (const e of entries) {
      const list = byPool.get(e.pool)
      if (list) list.push(e)
      else byPool.set(e.pool, [e])
    }
    const orphans = await Promise.all(
      [...byPool].map(async ([pool, list]) => {
        const args: string[] = []
        for (const e of list) {
          args.push(
            this.keys.assignments(e.pool),
            this.keys.due(e.pool),
            e.room,
            this.keys.presence(e.pool, e.room),
            presenceMember(e.user, e.holder),
            this.keys.nodeUsersPrefix(e.pool),
          )
        }
        const positions = await this.touchScript(this.keys.assignments(pool), Math.round(ttlMs), ...args)
        return positions.map((i) => list[i - 1]!)
      }),
    )
    return orphans.flat()
  }

  async list(pool: string): Promise<Assignment[]> {
    return this.read(pool, '')
  }

  async get(pool: string, room: string): Promise<Assignment | undefined> {
    return (await this.read(pool, room))[0]
  }

  async clean(pool: string, idleMs: number): Promise<string[]> {
    return this.cleanScript(
      this.keys.assignments(pool),
      this.keys.lastUsed(pool),
      this.keys.nodeRooms(pool),
      this.keys.due(pool),
      this.keys.presencePrefix(pool),
      this.keys.nodeUsersPrefix(pool),
      Math.round(idleMs),
      CLEAN_BATCH,
    )
  }

  async recount(pool: SharedPoolSpec): Promise<void> {
    await this.recountScript(
      this.keys.assignments(pool.name),
      this.keys.nodeRooms(pool.name),
      this.keys.due(pool.name),
      this.keys.presencePrefix(pool.name),
      this.keys.nodeUsersPrefix(pool.name),
      ...pool.nodes,
    )
  }

  private async read(pool: string, room: string): Promise<Assignment[]> {
    const flat = await this.listScript(this.keys.assignments(pool), this.keys.lastUsed(pool), this.keys.presencePrefix(pool), room)
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
