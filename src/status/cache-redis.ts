/**
 * Status snapshots in Redis: `rg:status:{slug}`, a hash {statuses (JSON),
 * fetchedAt, version}, written by one compare-and-set script.
 */
import type { Redis } from 'ioredis'
import { keys } from '../engine/keys.js'
import { defineScript } from '../engine/scripts.js'
import { SNAPSHOT_TTL_MS, type PutResult, type StatusCacheStore, type StatusSnapshot } from './types.js'

/**
 * KEYS[1] rg:status:{slug}
 * ARGV[1] expected version   ARGV[2] statuses JSON   ARGV[3] fetchedAt   ARGV[4] bump (1/0)   ARGV[5] ttl ms
 * Returns the new version, or -1 when the stored version is not the expected one.
 * A new snapshot starts at Redis' clock in ms, not at 1: after Redis lost the
 * key (a restart without persistence, the TTL), versions still go up, so
 * instances never take new statuses for ones they parsed under the same
 * number, and open streams never drop updates as already seen.
 */
const PUT_LUA = `
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if current ~= tonumber(ARGV[1]) then return -1 end
local version = current
if current == 0 then
  local t = redis.call('TIME')
  version = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
elseif ARGV[4] == '1' then
  version = current + 1
end
redis.call('HSET', KEYS[1], 'statuses', ARGV[2], 'fetchedAt', ARGV[3], 'version', version)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return version
`

export class RedisStatusCache implements StatusCacheStore {
  private readonly putScript
  /** The last statuses parsed per slug (one entry per configured source). */
  private readonly parsed = new Map<string, { statuses: Record<string, string>; version: number }>()

  constructor(private readonly redis: Redis) {
    this.putScript = defineScript<number>(redis, 'rgStatusPut', PUT_LUA, 1)
  }

  /**
   * The version and time first; the statuses (up to megabytes of JSON) only
   * when the version is not the one this instance parsed last.
   */
  async get(slug: string): Promise<StatusSnapshot | undefined> {
    const key = keys.status(slug)
    const [version, fetchedAt] = await this.redis.hmget(key, 'version', 'fetchedAt')
    if (!version) return undefined
    const known = this.parsed.get(slug)
    if (known && known.version === Number(version)) return { statuses: known.statuses, fetchedAt: Number(fetchedAt), version: known.version }
    const h = await this.redis.hgetall(key)
    if (!h.version) return undefined
    const snapshot = { statuses: JSON.parse(h.statuses ?? '{}') as Record<string, string>, fetchedAt: Number(h.fetchedAt), version: Number(h.version) }
    this.parsed.set(slug, { statuses: snapshot.statuses, version: snapshot.version })
    return snapshot
  }

  async put(slug: string, expected: number, statuses: Record<string, string>, fetchedAt: number, bump: boolean): Promise<PutResult> {
    const version = await this.putScript(keys.status(slug), expected, JSON.stringify(statuses), fetchedAt, bump ? 1 : 0, SNAPSHOT_TTL_MS)
    if (version < 0) return { ok: false, current: await this.get(slug) }
    this.parsed.set(slug, { statuses, version })
    return { ok: true, snapshot: { statuses, fetchedAt, version } }
  }
}
