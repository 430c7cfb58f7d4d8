/**
 * `redis.waitReplicas`: after a write that must survive a failover (a job's
 * creation, a room's placement), WAIT until that many replicas hold it. WAIT
 * covers the writes made before it on the same connection; a pipeline that
 * names the written key goes to the node that holds it (on a cluster, that
 * key's master), on the connection the write used.
 */
import type { Redis } from 'ioredis'
import { RoomgateError } from '../errors.js'

export interface WaitReplicasSettings {
  replicas: number
  timeoutMs: number
}

/** Resolves once `key`'s write is on enough replicas; rejects with `engine_not_replicated` (503) past the timeout. */
export type ConfirmWrite = (key: string) => Promise<void>

export function confirmWrites(redis: Redis, settings: WaitReplicasSettings | undefined): ConfirmWrite {
  if (!settings) return () => Promise.resolve()
  const { replicas, timeoutMs } = settings
  return async (key) => {
    const out = (await redis.pipeline().exists(key).wait(replicas, timeoutMs).exec()) ?? []
    const [err, acked] = out[1] ?? [new Error('no reply to WAIT')]
    if (err) throw err
    if ((acked as number) < replicas) throw new RoomgateError('engine_not_replicated', { acked: String(acked), replicas: String(replicas) })
  }
}
