/**
 * The one place that chooses the engine: Redis when `redisUrl` (REDIS_URL) is
 * set, memory otherwise. Capabilities receive an `Engine` and never ask which.
 */
import type { Config } from '../config/schema.js'
import type { Logger } from '../log.js'
import { createMemoryEngine } from './memory.js'
import { createRedisEngine } from './redis.js'
import type { Engine } from './types.js'

export async function createEngine(config: Config, log: Logger): Promise<Engine> {
  if (!config.redisUrl) return createMemoryEngine(log)
  return createRedisEngine(
    {
      url: config.redisUrl,
      commandTimeoutMs: config.redis.commandTimeoutMs,
      connectTimeoutMs: config.redis.connectTimeoutMs,
    },
    log,
  )
}

export type { Engine, Bus, EngineState, MessageHandler } from './types.js'
