import { describe, expect, it } from 'vitest'
import { buildConfig } from '../../src/config/load.js'
import { canonicalJson, configHash, planReload } from '../../src/config/reload-plan.js'

const GATEWAYS = {
  strategy: 'exclusive',
  nodes: ['10.0.0.1', '10.0.0.2'],
  progressUrl: 'http://{node}/progress?room={room}',
}
const base = {
  port: 8080,
  auth: { bearerTokens: ['t1'], apiKeys: ['k1'] },
  services: { lobby: { url: 'http://lobby:8000' } },
  rateLimit: { rps: 10, burst: 20 },
  rooms: { legacyPool: 'gateways', pools: { gateways: GATEWAYS, janus: { strategy: 'least-loaded', nodes: ['a', 'b'] } } },
}
const running = buildConfig(base, {})
const next = (changes: Record<string, unknown>) => buildConfig({ ...base, ...changes }, {})

describe('planReload', () => {
  it.each([
    { desc: 'the same config', changes: {}, changed: [], restartOnly: [] },
    { desc: 'a service URL', changes: { services: { lobby: { url: 'http://lobby-2:8000' } } }, changed: ['services'], restartOnly: [] },
    { desc: 'a rate limit and the port', changes: { rateLimit: { rps: 1, burst: 2 }, port: 9000 }, changed: ['rateLimit'], restartOnly: ['port'] },
    { desc: 'a token', changes: { auth: { bearerTokens: ['t2'], apiKeys: ['k1'] } }, changed: ['auth.bearerTokens'], restartOnly: [] },
    {
      desc: "a pool's nodes, and a new pool",
      changes: { rooms: { ...base.rooms, pools: { ...base.rooms.pools, janus: { strategy: 'least-loaded', nodes: ['a'] }, extra: { strategy: 'fill', nodes: ['x'] } } } },
      changed: ['rooms.pools'],
      restartOnly: [],
    },
    {
      desc: "the legacy pool's monitor interval, and the admin port, the engine and the wrong-credential budget",
      changes: {
        rooms: { ...base.rooms, pools: { ...base.rooms.pools, gateways: { ...GATEWAYS, monitorIntervalMs: 100 } } },
        admin: { port: 9090 },
        redisUrl: 'redis://127.0.0.1:6379',
        auth: { ...base.auth, failedAttempts: { perMinute: 1 } },
      },
      changed: [],
      restartOnly: ['auth.failedAttempts.perMinute', 'rooms.pools.gateways.monitorIntervalMs', 'admin.port', 'redisUrl'],
    },
  ])('$desc', ({ changes, changed, restartOnly }) => {
    const plan = planReload(running, next(changes))
    expect(plan.changed).toEqual(changed)
    expect(plan.restartOnly).toEqual(restartOnly)
    expect(plan.problems).toEqual([])
  })

  it('runs the new live values and keeps the running restart-only ones', () => {
    const plan = planReload(running, next({ port: 9000, rateLimit: { rps: 1, burst: 2 }, admin: { port: 9090 } }))
    expect(plan.config.port).toBe(8080)
    expect(plan.config.admin.port).toBeUndefined()
    expect(plan.config.rateLimit).toEqual({ rps: 1, burst: 2 })
    expect(Object.isFrozen(plan.config.rateLimit)).toBe(true)
    expect(configHash(plan.config)).not.toBe(configHash(running))
    expect(configHash(planReload(running, next({ port: 9000 })).config)).toBe(configHash(running))
  })

  it('keeps a new pool whole, and a changed one at its running monitor interval', () => {
    const pools = { gateways: { ...GATEWAYS, nodes: ['10.0.0.3'], monitorIntervalMs: 100 }, extra: { strategy: 'fill', nodes: ['x'], monitorIntervalMs: 200 } }
    const plan = planReload(running, next({ rooms: { ...base.rooms, pools } }))
    expect(plan.config.rooms.pools.gateways).toMatchObject({ nodes: ['10.0.0.3'], monitorIntervalMs: 5000 })
    expect(plan.config.rooms.pools.extra).toMatchObject({ nodes: ['x'], monitorIntervalMs: 200 })
    // Left out of the file: the server pool is back at its defaults.
    expect(plan.config.rooms.pools.janus?.nodes).toHaveLength(12)
  })

  it('finds what the new live values break in the kept ones: the legacy pool gone from the pools', () => {
    const plan = planReload(running, next({ rooms: { ...base.rooms, legacyPool: undefined, pools: { janus: base.rooms.pools.janus } } }))
    expect(plan.restartOnly).toEqual(['rooms.legacyPool'])
    expect(plan.problems).toEqual(['rooms.legacyPool "gateways" is not defined in rooms.pools'])
  })
})

describe('configHash', () => {
  it('is 12 hex digits that do not depend on the order of keys', () => {
    expect(configHash(running)).toMatch(/^[0-9a-f]{12}$/)
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}')
  })
})
