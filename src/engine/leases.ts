/**
 * Leader leases for background loops: at most one instance of the cluster
 * runs a given loop at a time. The holder renews the lease on every tick; if
 * it dies, the lease expires and another instance takes over.
 */
import type { Redis } from 'ioredis'
import type { RedisKeys } from './keys.js'
import { defineScript } from './scripts.js'
import type { LeaseStore } from './types.js'

/** One process: it is always the leader. */
export class MemoryLeases implements LeaseStore {
  async acquire(): Promise<boolean> {
    return true
  }
  async release(): Promise<void> {}
}

/**
 * KEYS[1] rg:lease:{name}
 * ARGV[1] holder (instance id)   ARGV[2] ttl ms
 * Returns 1 when the caller holds the lease (taken or renewed), else 0.
 */
const ACQUIRE_LUA = `
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`

/** KEYS[1] rg:lease:{name}   ARGV[1] holder. Deletes the lease only if the caller holds it. */
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`

export class RedisLeases implements LeaseStore {
  private readonly acquireScript
  private readonly releaseScript

  constructor(
    redis: Redis,
    private readonly holder: string,
    private readonly keys: RedisKeys,
  ) {
    this.acquireScript = defineScript<number>(redis, 'rgLeaseAcquire', ACQUIRE_LUA, 1)
    this.releaseScript = defineScript<number>(redis, 'rgLeaseRelease', RELEASE_LUA, 1)
  }

  async acquire(name: string, ttlMs: number): Promise<boolean> {
    return (await this.acquireScript(this.keys.lease(name), this.holder, Math.round(ttlMs))) === 1
  }

  async release(name: string): Promise<void> {
    await this.releaseScript(this.keys.lease(name), this.holder)
  }
}
