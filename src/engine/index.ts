/**
 * The one place that chooses the engine: Redis when `redisUrl` (REDIS_URL),
 * `redis.sentinel` or `redis.cluster` is set, memory otherwise. Capabilities
 * receive an `Engine` and never ask which.
 */
import type { Config } from '../config/schema.js'
import { safeUrl, type Logger } from '../log.js'
import { createMemoryEngine } from './memory.js'
import { createRedisEngine } from './redis.js'
import type { SentinelSettings } from './redis-connection.js'
import type { Engine } from './types.js'

export async function createEngine(config: Config, log: Logger): Promise<Engine> {
  const { sentinel, cluster, waitReplicas } = config.redis
  if (!config.redisUrl && !sentinel && !cluster) return createMemoryEngine(log)
  return createRedisEngine(
    {
      url: config.redisUrl ?? '',
      ...(sentinel ? { sentinel: sentinelSettings(sentinel) } : {}),
      ...(cluster
        ? { cluster: { nodes: cluster.nodes.map(hostPort), ...(cluster.password === undefined ? {} : { password: cluster.password }) } }
        : {}),
      ...(waitReplicas ? { waitReplicas } : {}),
      commandTimeoutMs: config.redis.commandTimeoutMs,
      connectTimeoutMs: config.redis.connectTimeoutMs,
    },
    log,
  )
}

export type { Engine, Bus, EngineState, MessageHandler } from './types.js'

function sentinelSettings(s: NonNullable<Config['redis']['sentinel']>): SentinelSettings {
  return {
    name: s.name,
    sentinels: s.sentinels.map(hostPort),
    ...(s.password === undefined ? {} : { password: s.password }),
  }
}

function hostPort(hp: string): { host: string; port: number } {
  const i = hp.lastIndexOf(':')
  return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) }
}

/** Where the Redis engine connects, for logs and `config check` (no password); undefined for memory. */
export function redisTarget(config: Config): string | undefined {
  const { sentinel, cluster } = config.redis
  if (cluster) return `cluster ${cluster.nodes.join(',')}`
  if (sentinel) return `sentinel ${sentinel.name} via ${sentinel.sentinels.join(',')}`
  return config.redisUrl === undefined ? undefined : safeUrl(config.redisUrl)
}
