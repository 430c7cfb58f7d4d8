import type { Redis } from 'ioredis'
import { keys as redisKeys } from '../../engine/keys.js'
import { defineScript } from '../../engine/scripts.js'
import { PUBLISH, READ } from './redis-lua.js'
import {
  IDEMPOTENCY_TTL_MS,
  newEpoch,
  type HistorySettings,
  type Publication,
  type StreamPosition,
  type StreamRead,
  type StreamStore,
} from './types.js'

/** Stream history in Redis, written by the same script that publishes (see redis-lua.ts). */
export class RedisStreams implements StreamStore {
  private readonly publishScript
  private readonly readScript

  constructor(redis: Redis) {
    this.publishScript = defineScript<number | null>(redis, 'rgHistPublish', PUBLISH, null)
    this.readScript = defineScript<[string, number, number, ...string[]]>(redis, 'rgHistRead', READ, 2)
  }

  async publish(p: Publication): Promise<number | undefined> {
    const keys: string[] = []
    if (p.idempotencyKey !== undefined) keys.push(redisKeys.broadcastKey(p.idempotencyKey))
    for (const s of p.streams) keys.push(redisKeys.historyFrames(s), redisKeys.historyMeta(s))
    const h = p.history
    const names = p.streams.map((s) => JSON.stringify(s))
    const receivers = await this.publishScript(
      keys.length,
      keys,
      p.idempotencyKey === undefined ? 0 : 1,
      p.channel,
      p.header,
      p.body,
      h.size,
      h.ttlMs,
      Math.max(h.metaTtlMs, h.ttlMs),
      newEpoch(),
      IDEMPOTENCY_TTL_MS,
      names,
    )
    return receivers === null ? undefined : receivers
  }

  async read(stream: string, since: StreamPosition | undefined, history: HistorySettings): Promise<StreamRead> {
    const [epoch, top, recovered, ...newestFirst] = await this.readScript(
      redisKeys.historyFrames(stream),
      redisKeys.historyMeta(stream),
      newEpoch(),
      Math.max(history.metaTtlMs, history.ttlMs),
      since?.epoch ?? '',
      since?.offset ?? 0,
    )
    return { epoch, offset: Number(top), recovered: since !== undefined && recovered === 1, frames: newestFirst.reverse() }
  }
}
