import type { Redis } from 'ioredis'

/**
 * Registers a Lua script once (EVALSHA, with EVAL on NOSCRIPT) and returns a
 * typed function calling it with `keys` KEYS followed by ARGV.
 */
export function defineScript<R>(redis: Redis, name: string, lua: string, keys: number): (...args: Array<string | number>) => Promise<R> {
  redis.defineCommand(name, { numberOfKeys: keys, lua })
  const fn = (redis as unknown as Record<string, (...args: Array<string | number>) => Promise<R>>)[name]!
  return fn.bind(redis)
}
