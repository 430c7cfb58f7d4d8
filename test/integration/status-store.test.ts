/**
 * Status snapshots in Redis cost what changed (issue 11): with 100,000 units,
 * a change of one status sends Redis a few hundred bytes (it sent the whole
 * snapshot, ~3 MB, on every change), and an instance holding an older version
 * catches up through the changes it missed; it reads every unit only when it
 * is further behind than the change log reaches, or a change was too big to log.
 * Bytes are Redis' own count (INFO stats), not timings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Redis } from 'ioredis'
import { createRedisEngine } from '../../src/engine/redis.js'
import type { Engine } from '../../src/engine/types.js'
import { LOG_MAX_UNITS, LOG_VERSIONS } from '../../src/status/cache-redis.js'
import type { StatusSnapshot } from '../../src/status/types.js'
import { sortedStatuses } from '../../src/status/units.js'
import { silentLog } from '../helpers/log.js'
import { RedisServer } from '../helpers/redis-server.js'

const redis = new RedisServer()
let writer: Engine
let reader: Engine
let admin: Redis

beforeAll(async () => {
  await redis.start()
  const engine = () => createRedisEngine({ url: redis.url, commandTimeoutMs: 5_000, connectTimeoutMs: 2_000 }, silentLog)
  ;[writer, reader] = await Promise.all([engine(), engine()])
  admin = redis.client()
})
afterAll(async () => {
  admin.disconnect()
  await Promise.all([writer.close(), reader.close()])
  await redis.stop()
})

const UNITS = 100_000
const statuses = (units = UNITS): Record<string, string> => {
  const out: Record<string, string> = {}
  for (let i = 0; i < units; i++) out[`unit-${String(i).padStart(6, '0')}`] = i % 3 === 0 ? 'sold' : 'available'
  return out
}

/** Bytes Redis received from, and sent to, all its clients while `fn` ran (less the INFO calls' own). */
async function traffic(fn: () => Promise<unknown>): Promise<{ in: number; out: number }> {
  const read = async () => {
    const info = await admin.info('stats')
    const n = (name: string) => Number(new RegExp(`${name}:(\\d+)`).exec(info)![1])
    return { in: n('total_net_input_bytes'), out: n('total_net_output_bytes') }
  }
  const measure = async (f: () => Promise<unknown>) => {
    const before = await read()
    await f()
    const after = await read()
    return { in: after.in - before.in, out: after.out - before.out }
  }
  const noise = await measure(async () => undefined)
  const seen = await measure(fn)
  return { in: seen.in - noise.in, out: seen.out - noise.out }
}

async function write(slug: string, previous: StatusSnapshot | undefined, next: Record<string, string>): Promise<StatusSnapshot> {
  const put = await writer.statusCache.put(slug, previous, next, Date.now(), true)
  if (!put.ok) throw new Error('write refused')
  return put.snapshot
}

describe('status snapshots in Redis', () => {
  it('writes what changed and reads what it missed, with 100,000 units', async () => {
    const all = statuses()
    const whole = await traffic(() => write('big', undefined, all))
    expect(whole.in).toBeGreaterThan(1_500_000) // the first write is the whole snapshot
    const first = await reader.statusCache.get('big')
    expect(first!.statuses).toEqual(all)

    let last = (await writer.statusCache.get('big'))!
    const one = { ...all, 'unit-000042': 'reserved' }
    const written = await traffic(async () => (last = await write('big', last, one)))
    expect(written.in).toBeLessThan(2_000)

    const caughtUp = await traffic(async () => expect((await reader.statusCache.get('big'))!.statuses).toEqual(one))
    expect(caughtUp.out).toBeLessThan(2_000)
    // Nothing new: one small answer.
    const unchanged = await traffic(() => reader.statusCache.get('big'))
    expect(unchanged.out).toBeLessThan(500)
    expect(await admin.hlen('rg:status:{big}:units')).toBe(UNITS)
  })

  it('catches up through several versions, removals included, and serves the same bytes as the writer', async () => {
    const slug = 'several'
    let current = statuses()
    let last = await write(slug, undefined, current)
    await reader.statusCache.get(slug)
    for (let i = 0; i < 5; i++) {
      current = { ...current, [`unit-00000${i}`]: 'reserved', [`new-${i}`]: 'sold' }
      delete current[`unit-00010${i}`]
      last = await write(slug, last, current)
    }
    const caughtUp = await traffic(async () => {
      const got = (await reader.statusCache.get(slug))!
      expect(got.version).toBe(last.version)
      // The service writes statuses in unit-id order; the reader rebuilds them in that order.
      expect(JSON.stringify(got.statuses)).toBe(JSON.stringify(sortedStatuses(Object.entries(last.statuses))))
    })
    expect(caughtUp.out).toBeLessThan(5_000)
  })

  it(`reads every unit when it is more than ${LOG_VERSIONS} versions behind, or a change was too big to log`, async () => {
    const slug = 'behind'
    let current = statuses(10_000)
    let last = await write(slug, undefined, current)
    await reader.statusCache.get(slug)
    for (let i = 0; i <= LOG_VERSIONS; i++) last = await write(slug, last, (current = { ...current, 'unit-000001': `s${i}` }))
    const far = await traffic(async () => expect((await reader.statusCache.get(slug))!.statuses).toEqual(current))
    expect(far.out).toBeGreaterThan(150_000)

    const big = { ...current }
    for (let i = 0; i <= LOG_MAX_UNITS; i++) big[`unit-${String(i).padStart(6, '0')}`] = 'reserved'
    last = await write(slug, last, big)
    expect(await admin.llen('rg:status:{behind}:log')).toBe(0)
    expect((await reader.statusCache.get(slug))!.statuses).toEqual(big)
    expect(last.version).toBe((await reader.statusCache.get(slug))!.version)
  })
})
