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

/**
 * Reply errors that mean "Redis cannot serve this now", not "this call is wrong".
 * MOVED and ASK reach us when a Redis Cluster slot moved (a failover) under an
 * auto-pipelined batch that ioredis could not redirect as a whole: the command
 * did not run.
 */
const UNAVAILABLE_REPLY = /^(LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|NOAUTH|WRONGPASS|OOM|MISCONF|NOREPLICAS|MOVED|ASK)\b/
const REDIRECT_REPLY = /^(MOVED|ASK) /


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
  const fail = (err: unknown): never => {
    // ioredis keeps sending that slot's batches to the old node until its slot map is refreshed.
    if (err instanceof Error && err.name === 'ReplyError' && REDIRECT_REPLY.test(err.message)) refreshSlots(redis)
    return mapped(err)
  }
  // One wrapper per method, not one per call: this sits on every command.
  const wrappers = new WeakMap<Fn, Fn>()
  const wrap = (property: PropertyKey, method: Fn): Fn => {
    let wrapper = wrappers.get(method)
    if (wrapper) return wrapper
    wrapper = (...args: unknown[]) => {
      const out = method.apply(redis, args)
      if (out instanceof Promise) return out.catch(fail)
      if (BATCHES.has(property)) guardExec(out as { exec: Fn }, fail)
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

function guardExec(batch: { exec: Fn }, fail: (err: unknown) => never): void {
  const exec = batch.exec.bind(batch)
  batch.exec = (...args: unknown[]) => (exec(...args) as Promise<unknown>).catch(fail)
}

/** Asks a Redis Cluster client to reload its slot map (a plain Redis has none). */
function refreshSlots(redis: Redis): void {
  const cluster = redis as unknown as { refreshSlotsCache?: (done: (err?: Error) => void) => void }
  cluster.refreshSlotsCache?.(() => undefined)
}
