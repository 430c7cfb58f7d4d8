import type { Redis } from 'ioredis'
import type { Logger } from '../log.js'
import { safeUrl } from '../log.js'
import { RedisJobStore } from '../jobs/store-redis.js'
import { RedisStatusCache } from '../status/cache-redis.js'
import { RedisRateLimitStore } from '../ratelimit/redis-store.js'
import { RedisExclusiveStore } from '../rooms/exclusive-redis.js'
import { RedisSharedStore } from '../rooms/shared-redis.js'
import { RedisLeases } from './leases.js'
import { RedisBus } from './redis-bus.js'
import { RedisStreams } from '../realtime/history/redis.js'
import { guardRedis } from './redis-guard.js'
import { newInstanceId } from './instance-id.js'
import {
  commandConnection,
  masters,
  release,
  settleWithin,
  subscriberConnection,
  waitReady,
  type ClusterSettings,
  type SentinelSettings,
} from './redis-connection.js'
import { keyLayout } from './keys.js'
import { confirmWrites, type WaitReplicasSettings } from './replicas.js'
import type { Engine, EngineState } from './types.js'

export interface RedisEngineSettings {
  url: string
  /** Redis behind Sentinel (then `url` is not used). */
  sentinel?: SentinelSettings
  /** A Redis Cluster (then `url` is not used). */
  cluster?: ClusterSettings
  /** Writes that wait for replicas (job creation, placements). */
  waitReplicas?: WaitReplicasSettings
  commandTimeoutMs: number
  connectTimeoutMs: number
}

/**
 * How often each connection is PINGed. A Redis that stalls without closing the
 * socket (a partition, a paused process) sends no `close` event; the probe
 * notices it within one interval plus the command timeout and reconnects.
 */
export const PROBE_INTERVAL_MS = 1_000
const QUIT_TIMEOUT_MS = 1_000

/**
 * Shared state in Redis. Start-up waits up to `connectTimeoutMs` for Redis and
 * then goes on without it: the gateway serves what does not need Redis, answers
 * 503 for what does, and recovers by itself when Redis comes back.
 */
export async function createRedisEngine(settings: RedisEngineSettings, log: Logger): Promise<Engine> {
  const instanceId = newInstanceId()
  const base = { ...settings, name: `roomgate:${instanceId}` }
  const cmd = commandConnection({ ...base, name: `${base.name}:cmd` })
  const sub = subscriberConnection({ ...base, name: `${base.name}:sub` })
  const clients: Redis[] = [cmd, sub]
  const where = settings.cluster
    ? `cluster ${settings.cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`
    : settings.sentinel
      ? `sentinel master ${settings.sentinel.name}`
      : safeUrl(settings.url)
  const elog = log.child({ engine: 'redis', redis: where })

  let state: EngineState = 'unavailable'
  let closing = false
  /** Why Redis cannot be reached, as last logged during this outage (once per cause, not per retry). */
  let cause: string | undefined
  const update = () => {
    const next: EngineState = cmd.status === 'ready' && sub.status === 'ready' ? 'ready' : 'unavailable'
    if (next === state || closing) return
    state = next
    if (next === 'ready') {
      elog.info(cause === undefined ? 'redis connected' : `redis connected again (it was unreachable: ${cause})`)
      cause = undefined
    } else elog.warn('redis unreachable: calls that need shared state answer 503 until it is back; reconnecting')
  }
  for (const client of clients) {
    client.on('ready', update)
    client.on('close', update)
    // ioredis reports every failed reconnect: the cause is logged once when it is new, the rest at debug.
    client.on('error', (err: Error) => {
      const why = connectionCause(err)
      if (state !== 'ready' && why !== cause && !closing) {
        cause = why
        elog.warn({ cause: why }, `redis at ${where} cannot be reached: ${why}`)
      } else elog.debug({ err: err.message }, 'redis connection error')
    })
  }

  // A cluster client watches its nodes itself (and PING would go to any one of them).
  const probe = setInterval(() => {
    if (settings.cluster) return
    for (const client of clients) {
      if (client.status !== 'ready') continue
      void settleWithin(client.ping(), settings.commandTimeoutMs).then((pong) => {
        if (pong !== undefined || closing || client.status !== 'ready') return
        elog.warn('redis stopped answering: reconnecting')
        client.disconnect(true)
      })
    }
  }, PROBE_INTERVAL_MS)
  probe.unref()

  const [cmdReady, subReady] = await Promise.all([
    waitReady(cmd, settings.connectTimeoutMs),
    waitReady(sub, settings.connectTimeoutMs),
  ])
  update()
  if (!cmdReady || !subReady) elog.warn('redis not reachable at start; starting anyway and retrying')

  // Every store, lease and publish goes through the guarded connection: one failure policy for all.
  const redis = guardRedis(cmd)
  const keys = keyLayout(settings.cluster !== undefined)
  const confirm = confirmWrites(redis, settings.waitReplicas)
  const bus = new RedisBus(
    redis,
    sub,
    settings.commandTimeoutMs,
    (err, channel) => elog.error({ err, channel }, 'bus handler failed'),
    settings.cluster !== undefined,
  )
  let closed: Promise<void> | undefined
  return {
    kind: 'redis',
    instanceId,
    bus,
    streams: new RedisStreams(redis, keys),
    rateLimits: new RedisRateLimitStore(redis, keys),
    leases: new RedisLeases(redis, instanceId, keys),
    rooms: {
      exclusive: new RedisExclusiveStore(redis, keys, confirm, () => masters(cmd)),
      shared: new RedisSharedStore(redis, keys, confirm),
    },
    jobs: new RedisJobStore(redis, keys, confirm),
    statusCache: new RedisStatusCache(redis, keys),
    state: () => state,
    close: () => {
      closing = true
      clearInterval(probe)
      // A Redis known to be down would only make QUIT wait out its timeout.
      const wait = state === 'ready' ? QUIT_TIMEOUT_MS : 0
      closed ??= Promise.all([release(cmd, wait), release(sub, wait)]).then(() => undefined)
      return closed
    },
  }
}

/** A connection error in words an operator acts on: refused, DNS, authentication, timeout; otherwise its message. */
export function connectionCause(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code
  const text = err.message
  if (code === 'ECONNREFUSED') return 'connection refused'
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'DNS lookup failed'
  if (/WRONGPASS|NOAUTH|invalid password|AUTH <password> called without any password/i.test(text)) return 'authentication failed (check the password in the Redis URL)'
  if (code === 'ETIMEDOUT' || /ETIMEDOUT|timed? ?out/i.test(text)) return 'timed out'
  if (code === 'ECONNRESET') return 'connection reset'
  return text
}
