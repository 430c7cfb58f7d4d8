/** The behaviour every SharedStore promises (seed 003's assignments and presence; rooms/types.ts). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { SharedPoolSpec, SharedStore } from '../../src/rooms/types.js'
import { sleep } from '../helpers/ports.js'

export interface SharedFixture {
  store: SharedStore
  close(): Promise<void>
}

let n = 0
const unique = (what: string) => `${what}${process.pid}x${Date.now()}x${n++}`
const HOUR = 3_600_000

export function sharedRoomsContract(name: string, create: () => Promise<SharedFixture>): void {
  describe(`SharedStore contract: ${name}`, () => {
    let f: SharedFixture
    let pool: SharedPoolSpec
    const join = (room: string, user: string, holder = 'inst', ttlMs = HOUR) => f.store.place(pool, room, { user, holder, ttlMs })
    beforeEach(async () => {
      f = await create()
      pool = { name: unique('janus'), strategy: 'least-loaded', nodes: ['gxy1', 'gxy2', 'gxy3'], capacity: 2 }
    })
    afterEach(async () => {
      await f.close()
    })

    it('places a new room and keeps it there (sticky)', async () => {
      const r = unique('r')
      expect(await f.store.place(pool, r)).toEqual({ node: 'gxy1', created: true })
      expect(await f.store.place(pool, r)).toEqual({ node: 'gxy1', created: false })
      const a = await f.store.get(pool.name, r)
      expect(a).toMatchObject({ pool: pool.name, room: r, node: 'gxy1', users: 0 })
      expect(a!.lastUsedAt).toBeGreaterThan(Date.now() - 60_000)
    })

    it('least-loaded: fewest distinct users, then fewest rooms, then order', async () => {
      const [a, b, c, d] = [unique('a'), unique('b'), unique('c'), unique('d')]
      await join(a, 'u1')
      await join(a, 'u2')
      expect((await f.store.place(pool, b)).node).toBe('gxy2')
      expect((await f.store.place(pool, c)).node).toBe('gxy3')
      await join(c, 'u3')
      // gxy1: 2 users, gxy2: 0 users 1 room, gxy3: 1 user
      expect((await f.store.place(pool, d)).node).toBe('gxy2')
    })

    it('counts a user once per node, whatever the rooms and holders', async () => {
      const [a, b] = [unique('a'), unique('b')]
      await join(a, 'u1', 'inst-1')
      await join(a, 'u1', 'inst-2')
      await join(a, 'u2')
      expect((await f.store.get(pool.name, a))?.users).toBe(2)
      await f.store.place({ ...pool, nodes: ['gxy1'] }, b, { user: 'u1', holder: 'x', ttlMs: HOUR })
      // b is on gxy1 too: u1 is there already, so gxy1 still has 2 distinct users.
      expect((await f.store.place(pool, unique('c'))).node).toBe('gxy2')
      expect((await f.store.list(pool.name)).map((x) => x.users).sort()).toEqual([0, 1, 2])
    })

    it('fill: the first node under capacity, in order', async () => {
      const fill: SharedPoolSpec = { ...pool, strategy: 'fill' }
      const [a, b, c] = [unique('a'), unique('b'), unique('c')]
      await f.store.place(fill, a, { user: 'u1', holder: 'i', ttlMs: HOUR })
      expect((await f.store.place(fill, b)).node).toBe('gxy1') // 1 user < capacity 2
      await f.store.place(fill, b, { user: 'u2', holder: 'i', ttlMs: HOUR })
      expect((await f.store.place(fill, c)).node).toBe('gxy2') // gxy1 is full
    })

    it('fill: when every node is full, the least loaded', async () => {
      const fill: SharedPoolSpec = { ...pool, strategy: 'fill', capacity: 1, nodes: ['gxy1', 'gxy2'] }
      const [a, b, c] = [unique('a'), unique('b'), unique('c')]
      await f.store.place(fill, a, { user: 'u1', holder: 'i', ttlMs: HOUR })
      await f.store.place(fill, a, { user: 'u2', holder: 'i', ttlMs: HOUR })
      await f.store.place(fill, b, { user: 'u3', holder: 'i', ttlMs: HOUR })
      expect((await f.store.place(fill, c)).node).toBe('gxy2')
    })

    it('moves a room whose node left the pool', async () => {
      const r = unique('r')
      await f.store.place(pool, r)
      expect(await f.store.place({ ...pool, nodes: ['gxy2', 'gxy3'] }, r)).toEqual({ node: 'gxy2', created: true })
    })

    it('lets presence expire unless touched, and ends it on release', async () => {
      const r = unique('r')
      await join(r, 'short', 'h', 150)
      await join(r, 'kept', 'h', 150)
      await join(r, 'gone', 'h', HOUR)
      await f.store.release({ pool: pool.name, room: r, user: 'gone', holder: 'h' })
      await sleep(80)
      await f.store.touch([{ pool: pool.name, room: r, user: 'kept', holder: 'h' }], 300)
      await sleep(120)
      expect((await f.store.get(pool.name, r))?.users).toBe(1)
    })

    it('drops idle rooms only after the idle time, counting from their last user', async () => {
      const [busy, idle, recent] = [unique('busy'), unique('idle'), unique('recent')]
      await join(busy, 'u1')
      await f.store.place(pool, idle)
      await join(recent, 'u2', 'h', 200)
      expect(await f.store.clean(pool.name, 300)).toEqual([])
      await sleep(350)
      // idle: unused for 350 ms; recent: its user expired at ~200 ms, so idle for ~150 ms only.
      expect(await f.store.clean(pool.name, 300)).toEqual([idle])
      await sleep(200)
      expect(await f.store.clean(pool.name, 300)).toEqual([recent])
      expect((await f.store.list(pool.name)).map((a) => a.room)).toEqual([busy])
      // A dropped room is placed afresh next time.
      expect((await f.store.place(pool, idle)).created).toBe(true)
    })

    it('keeps its load counts right through leaves, expiry, moves and a recount', async () => {
      const [a, b] = [unique('a'), unique('b')]
      await join(a, 'u1')
      await join(a, 'u2', 'h', 100)
      await join(b, 'u3') // b goes to gxy2
      await f.store.release({ pool: pool.name, room: a, user: 'u1', holder: 'inst' })
      await sleep(150)
      await f.store.clean(pool.name, HOUR) // u2 expires: gxy1 is empty again
      await f.store.recount(pool)
      // gxy1: 0 users 1 room, gxy2: 1 user, gxy3: 0 users 0 rooms
      expect((await f.store.place(pool, unique('c'))).node).toBe('gxy3')
      expect((await f.store.place(pool, unique('d'))).node).toBe('gxy1')
      // Moving a room (its node left the pool) moves its users' load too.
      await f.store.place({ ...pool, nodes: ['gxy1', 'gxy3'] }, b)
      expect((await f.store.place(pool, unique('e'))).node).toBe('gxy2')
    })

    it('places one new room on exactly one node under concurrent calls', async () => {
      const r = unique('race')
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => join(r, `u${i}`)))
      expect(new Set(results.map((x) => x.node)).size).toBe(1)
      expect(results.filter((x) => x.created)).toHaveLength(1)
      expect((await f.store.get(pool.name, r))?.users).toBe(30)
    })

    it('keeps one presence key: random, and the same on every call', async () => {
      const [k1, k2] = await Promise.all([f.store.presenceKey(), f.store.presenceKey()])
      expect(k1).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(k2).toBe(k1)
    })
  })
}
