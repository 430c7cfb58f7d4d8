/** The behaviour every ExclusiveStore promises (seed 000's mappings; rooms/types.ts). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ExclusiveStore } from '../../src/rooms/types.js'

export interface ExclusiveFixture {
  store: ExclusiveStore
  close(): Promise<void>
}

let n = 0
const unique = (what: string) => `${what}${process.pid}x${Date.now()}x${n++}`

export function exclusiveRoomsContract(name: string, create: () => Promise<ExclusiveFixture>): void {
  describe(`ExclusiveStore contract: ${name}`, () => {
    let f: ExclusiveFixture
    let pool: string
    const nodes = ['10.0.0.1', '10.0.0.2']
    beforeEach(async () => {
      f = await create()
      pool = unique('gw')
    })
    afterEach(async () => {
      await f.close()
    })

    it('takes the first free node, keeps a started room on it, and fails when every node is used', async () => {
      const [a, b, c] = [unique('a'), unique('b'), unique('c')]
      expect(await f.store.start(pool, a, nodes)).toEqual({ status: 'created', node: '10.0.0.1' })
      expect(await f.store.start(pool, a, nodes)).toEqual({ status: 'existing', node: '10.0.0.1' })
      expect(await f.store.start(pool, b, nodes)).toEqual({ status: 'created', node: '10.0.0.2' })
      expect(await f.store.start(pool, c, nodes)).toEqual({ status: 'full' })
      expect(await f.store.get(a)).toEqual({ room: a, node: '10.0.0.1', state: 'started', duration: '', progress: '' })
    })

    it('stops a room but keeps its mapping and node; a stopped room cannot start again', async () => {
      const a = unique('a')
      await f.store.start(pool, a, nodes)
      const stopped = await f.store.stop(a)
      expect(stopped).toEqual({ status: 'stopped', mapping: { room: a, node: '10.0.0.1', state: 'stopped', duration: '', progress: '' } })
      expect((await f.store.stop(a)).status).toBe('already-stopped')
      expect(await f.store.start(pool, a, nodes)).toEqual({ status: 'stopped', node: '10.0.0.1' })
      // The stopped room still holds its node.
      expect(await f.store.start(pool, unique('b'), nodes)).toEqual({ status: 'created', node: '10.0.0.2' })
      expect(await f.store.stop(unique('missing'))).toEqual({ status: 'missing' })
    })

    it('writes progress only for the room still on that node, and keeps its state', async () => {
      const a = unique('a')
      await f.store.start(pool, a, nodes)
      await f.store.stop(a)
      expect(await f.store.writeProgress(a, '10.0.0.1', '00:02:43', '80%')).toBe(true)
      expect(await f.store.writeProgress(a, '10.0.0.2', 'x', 'y')).toBe(false)
      expect(await f.store.writeProgress(unique('none'), '10.0.0.1', 'x', 'y')).toBe(false)
      expect(await f.store.get(a)).toMatchObject({ state: 'stopped', duration: '00:02:43', progress: '80%' })
    })

    it('removes a mapping only in the expected state, which frees its node', async () => {
      const [a, b] = [unique('a'), unique('b')]
      await f.store.start(pool, a, ['10.0.0.1'])
      expect(await f.store.removeIf(pool, a, '10.0.0.1', 'stopped')).toBe(false)
      await f.store.stop(a)
      expect(await f.store.removeIf(pool, a, '10.0.0.2', 'stopped')).toBe(false)
      expect(await f.store.removeIf(pool, a, '10.0.0.1', 'stopped')).toBe(true)
      expect(await f.store.get(a)).toBeUndefined()
      expect(await f.store.start(pool, b, ['10.0.0.1'])).toEqual({ status: 'created', node: '10.0.0.1' })
    })

    it('lists the mappings of a pool', async () => {
      const [a, b] = [unique('a'), unique('b')]
      await f.store.start(pool, a, nodes)
      await f.store.start(pool, b, nodes)
      await f.store.stop(b)
      const list = await f.store.list(pool)
      expect(list.map((m) => [m.room, m.node, m.state]).sort()).toEqual([
        [a, '10.0.0.1', 'started'],
        [b, '10.0.0.2', 'stopped'],
      ])
      expect(await f.store.list(unique('other'))).toEqual([])
    })

    it('gives each node to one room under concurrent starts', async () => {
      const rooms = Array.from({ length: 20 }, () => unique('r'))
      const three = ['n1', 'n2', 'n3']
      const results = await Promise.all(rooms.map((r) => f.store.start(pool, r, three)))
      const created = results.filter((r) => r.status === 'created')
      expect(created).toHaveLength(3)
      expect(new Set(created.map((r) => (r as { node: string }).node))).toEqual(new Set(three))
      const same = unique('same')
      const again = await Promise.all(Array.from({ length: 20 }, () => f.store.start(unique('p'), same, three)))
      expect(again.filter((r) => r.status === 'created')).toHaveLength(1)
      expect(new Set(again.map((r) => (r as { node: string }).node))).toEqual(new Set(['n1']))
    })
  })
}
