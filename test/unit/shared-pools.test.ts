import { describe, expect, it } from 'vitest'
import { buildConfig } from '../../src/config/load.js'
import { DrainingStore } from '../../src/rooms/draining-store.js'
import { SharedPools } from '../../src/rooms/pools.js'
import { MemorySharedStore } from '../../src/rooms/shared-memory.js'

const rooms = (nodes: string[], more: Record<string, unknown> = {}) =>
  buildConfig({ rooms: { pools: { janus: { strategy: 'least-loaded', nodes }, ...more } } }, {}).rooms

describe('SharedPools and DrainingStore', () => {
  it('keeps a room on a node a reload removed, and places no new room there', async () => {
    const pools = new SharedPools(rooms(['a', 'b']))
    const store = new DrainingStore(new MemorySharedStore(), pools.draining)
    const janus = pools.poolOf(undefined)
    expect((await store.place(janus, 'r1')).node).toBe('a')
    expect((await store.place(janus, 'r2')).node).toBe('b')

    pools.reload(rooms(['a', 'c']))
    expect(pools.poolOf('janus')).toBe(janus)
    expect(janus.nodes).toEqual(['a', 'c'])
    expect(await store.place(janus, 'r2')).toEqual({ node: 'b', created: false })
    expect((await store.place(janus, 'r3')).node).toBe('c')
    expect((await store.place(janus, 'r4')).node).not.toBe('b')

    // Added back, it takes rooms again and drains no more.
    pools.reload(rooms(['a', 'b', 'c']))
    expect(pools.draining.size).toBe(0)
  })

  it('adds and removes pools; a removed pool is refused', () => {
    const pools = new SharedPools(rooms(['a']))
    pools.reload(rooms(['a'], { extra: { strategy: 'fill', nodes: ['x'], capacity: 5 } }))
    expect(pools.poolOf('extra')).toMatchObject({ strategy: 'fill', nodes: ['x'], capacity: 5 })
    pools.reload(rooms(['a']))
    expect(() => pools.poolOf('extra')).toThrow(/extra/)
  })
})
