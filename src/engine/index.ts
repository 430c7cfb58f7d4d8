/**
 * The one place that chooses the engine: Redis when `redisUrl` (REDIS_URL) is
 * set, memory otherwise. Capabilities receive an `Engine` and never ask which.
 */
import type { Config } from '../config/schema.js'
import type { Logger } from '../log.js'
import { createMemoryEngine } from './memory.js'
import { createRedisEngine } from './redis.js'
import type { SentinelSettings } from './redis-connection.js'
import type { Engine } from './types.js'

export async function createEngine(config: Config, log: Logger): Promise<Engine> {
  const sentinel = config.redis.sentinel
  if (!config.redisUrl && !sentinel) return createMemoryEngine(log)
  return createRedisEngine(
    {
      url: config.redisUrl ?? '',
      ...(sentinel ? { sentinel: sentinelSettings(sentinel) } : {}),
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
    sentinels: s.sentinels.map((hp) => {
      const i = hp.lastIndexOf(':')
      return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) }
    }),
    ...(s.password === undefined ? {} : { password: s.password }),
  }
}
