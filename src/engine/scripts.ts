import type { Redis } from 'ioredis'

/** A script's argument; an array is sent as its elements (so a long list is never spread into a call). */
export type ScriptArg = string | number | ReadonlyArray<string | number>

/**
 * Registers a Lua script once (EVALSHA, with EVAL on NOSCRIPT) and returns a
 * typed function calling it with `keys` KEYS followed by ARGV. With `keys`
 * null the number of keys varies: the call passes it first.
 */
export function defineScript<R>(redis: Redis, name: string, lua: string, keys: number | null): (...args: ScriptArg[]) => Promise<R> {
  redis.defineCommand(name, keys === null ? { lua } : { numberOfKeys: keys, lua })
  const fn = (redis as unknown as Record<string, (...args: ScriptArg[]) => Promise<R>>)[name]!
  return fn.bind(redis)
}
