import { RoomgateError } from '../errors.js'

/**
 * Wraps a Redis-backed store so that any failure of its calls (Redis down, a
 * command timeout) surfaces as `engine_unavailable` (503) instead of an
 * internal error. Stores stay plain; the policy lives here, once.
 */
export function failFast<T extends object>(store: T): T {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        const out = (value as (...a: unknown[]) => unknown).apply(target, args)
        return out instanceof Promise ? out.catch(unavailable) : out
      }
    },
  })
}

function unavailable(err: unknown): never {
  if (err instanceof RoomgateError) throw err
  throw new RoomgateError('engine_unavailable', undefined, { cause: err })
}
