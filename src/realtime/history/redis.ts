import type { Redis } from 'ioredis'
import { channels, streamGroup, STREAM_GROUPS, type RedisKeys } from '../../engine/keys.js'
import { defineScript } from '../../engine/scripts.js'
import { PUBLISH, READ } from './redis-lua.js'
import {
  busMessage,
  IDEMPOTENCY_TTL_MS,
  newEpoch,
  type HistorySettings,
  type Publication,
  type StreamPosition,
  type StreamRead,
  type StreamStore,
} from './types.js'

/**
 * Stream history in Redis, written by the same script that publishes (see
 * redis-lua.ts). On one Redis, one script call and one channel. On a Redis
 * Cluster, one call per group of streams (a group's streams share a slot),
 * each publishing on its group's sharded channel: a message goes to one
 * shard, not to all, and each stream's events still leave in offset order.
 */
export class RedisStreams implements StreamStore {
  readonly channels: readonly string[]
  private readonly publishScript
  private readonly readScript

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    this.channels = keys.cluster ? Array.from({ length: STREAM_GROUPS }, (_, g) => channels.broadcastGroup(g)) : [channels.broadcast]
    this.publishScript = defineScript<number | null>(redis, 'rgHistPublish', PUBLISH, null)
    this.readScript = defineScript<[string, number, number, ...string[]]>(redis, 'rgHistRead', READ, 2)
  }

  async publish(p: Publication): Promise<number | undefined> {
    if (!this.keys.cluster) return this.append(p, p.streams, channels.broadcast, p.idempotencyKey)
    const key = p.idempotencyKey === undefined ? undefined : this.keys.broadcastKey(p.idempotencyKey)
    if (key !== undefined && (await this.redis.set(key, '1', 'PX', IDEMPOTENCY_TTL_MS, 'NX')) === null) return undefined
    try {
      // History off: one message, on the channel of the first stream (so one target's events keep their order).
      if (p.history.size === 0) {
        const channel = channels.broadcastGroup(streamGroup(p.streams[0] ?? ''))
        return (await this.redis.spublish(channel, busMessage(p.header, [], p.body))) as number
      }
      const groups = new Map<number, string[]>()
      for (const s of p.streams) {
        const g = streamGroup(s)
        const list = groups.get(g)
        if (list) list.push(s)
        else groups.set(g, [s])
      }
      const counts = await Promise.all([...groups].map(([g, streams]) => this.append(p, streams, channels.broadcastGroup(g), undefined)))
      return counts.reduce<number>((sum, n) => sum + (n ?? 0), 0)
    } catch (err) {
      if (key !== undefined) await this.redis.del(key).catch(() => undefined)
      throw err
    }
  }

  async read(stream: string, since: StreamPosition | undefined, history: HistorySettings): Promise<StreamRead> {
    const [epoch, top, recovered, ...newestFirst] = await this.readScript(
      this.keys.historyFrames(stream),
      this.keys.historyMeta(stream),
      newEpoch(),
      Math.max(history.metaTtlMs, history.ttlMs),
      since?.epoch ?? '',
      since?.offset ?? 0,
    )
    return { epoch, offset: Number(top), recovered: since !== undefined && recovered === 1, frames: newestFirst.reverse() }
  }

  /** One script call: appends to `streams` (unless history is off) and publishes on `channel`. */
  private async append(p: Publication, streams: readonly string[], channel: string, idempotencyKey: string | undefined): Promise<number | undefined> {
    const appended = p.history.size > 0 ? streams : []
    const keys: string[] = []
    if (idempotencyKey !== undefined) keys.push(this.keys.broadcastKey(idempotencyKey))
    for (const s of appended) keys.push(this.keys.historyFrames(s), this.keys.historyMeta(s))
    const h = p.history
    const receivers = await this.publishScript(
      keys.length,
      keys,
      idempotencyKey === undefined ? 0 : 1,
      channel,
      p.header,
      p.body,
      h.size,
      h.ttlMs,
      Math.max(h.metaTtlMs, h.ttlMs),
      newEpoch(),
      IDEMPOTENCY_TTL_MS,
      this.keys.cluster ? 'SPUBLISH' : 'PUBLISH',
      appended.map((s) => JSON.stringify(s)),
    )
    return receivers === null ? undefined : receivers
  }
}
