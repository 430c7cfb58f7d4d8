/**
 * The Redis failure policy, in one place: everything sent on the command
 * connection (commands, scripts, MULTI/pipelines) that fails because Redis
 * cannot answer rejects with `engine_unavailable` (503). Stores stay plain and
 * none of them can escape the policy: it is applied to the connection they are
 * given, not opted into store by store.
 *
 * A reply error from a script or command that Redis did run (a bug, a wrong
 * type) is not an outage: it passes through unchanged and becomes a logged 500.
 */
import type { Redis } from 'ioredis'
import { RoomgateError } from '../errors.js'

/** Reply errors that mean "Redis cannot serve this now", not "this call is wrong". */
const UNAVAILABLE_REPLY = /^(LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|NOAUTH|WRONGPASS|OOM|MISCONF|NOREPLICAS)\b/


export function isOutage(err: unknown): boolean {
  if (!(err instanceof Error)) return true
  if (err.name === 'ReplyError') return UNAVAILABLE_REPLY.test(err.message)
  return !(err instanceof RoomgateError)
}

function mapped(err: unknown): never {
  if (!isOutage(err)) throw err
  const timedOut = (err as Error).message === 'Command timed out'
  throw new RoomgateError(timedOut ? 'engine_timeout' : 'engine_unavailable', undefined, { cause: err })
}

type Fn = (...args: unknown[]) => unknown

/** Methods that return a pipeline whose `exec()` is what reaches Redis. */
const BATCHES = new Set<PropertyKey>(['multi', 'pipeline'])

/** `redis`, with every promise it returns mapped by the policy above. */
export function guardRedis(redis: Redis): Redis {
  // One wrapper per method, not one per call: this sits on every command.
  const wrappers = new WeakMap<Fn, Fn>()
  const wrap = (property: PropertyKey, method: Fn): Fn => {
    let wrapper = wrappers.get(method)
    if (wrapper) return wrapper
    wrapper = (...args: unknown[]) => {
      const out = method.apply(redis, args)
      if (out instanceof Promise) return out.catch(mapped)
      if (BATCHES.has(property)) guardExec(out as { exec: Fn })
      return out
    }
    wrappers.set(method, wrapper)
    return wrapper
  }
  return new Proxy(redis, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown
      return typeof value === 'function' ? wrap(property, value as Fn) : value
    },
  })
}

function guardExec(batch: { exec: Fn }): void {
  const exec = batch.exec.bind(batch)
  batch.exec = (...args: unknown[]) => (exec(...args) as Promise<unknown>).catch(mapped)
}
