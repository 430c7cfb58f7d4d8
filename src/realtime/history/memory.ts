/**
 * Stream history in the process: a ring of each stream's last events. A
 * restart starts every stream in a new epoch. Streams nobody used for their
 * meta TTL are swept out on the way (no timer), so memory follows the streams
 * in use, not every device ever seen.
 */
import { channels } from '../../engine/keys.js'
import type { Bus } from '../../engine/types.js'
import { RecentKeys } from '../recent-keys.js'
import {
  busMessage,
  IDEMPOTENCY_TTL_MS,
  newEpoch,
  streamFrame,
  type HistorySettings,
  type Publication,
  type StreamEntry,
  type StreamPosition,
  type StreamRead,
  type StreamStore,
} from './types.js'

interface Stream {
  epoch: string
  top: number
  /** The last events' frames, oldest first: offsets top-frames.length+1 … top. */
  frames: string[]
  /** When the frames expire (ms, Date.now clock). */
  framesUntil: number
  /** When the stream itself (epoch and top) expires. */
  until: number
}

const SWEEP_EVERY_MS = 30_000

export class MemoryStreams implements StreamStore {
  private readonly streams = new Map<string, Stream>()
  private readonly keys = new RecentKeys(100_000, IDEMPOTENCY_TTL_MS)
  private nextSweep = 0
  readonly channels = [channels.broadcast]

  constructor(
    private readonly bus: Bus,
    private readonly now: () => number = Date.now,
  ) {}

  publish(p: Publication): Promise<number | undefined> {
    if (p.idempotencyKey !== undefined && !this.keys.add(p.idempotencyKey)) return Promise.resolve(undefined)
    const now = this.now()
    this.sweep(now)
    const positions: Array<Required<StreamEntry>> = []
    if (p.history.size > 0) for (const name of p.streams) positions.push({ ...this.append(name, p.body, p.history, now), stream: name })
    // Synchronous up to here: the bus delivers in publish order, so in offset order.
    return this.bus.publish(channels.broadcast, busMessage(p.header, positions, p.body))
  }

  read(name: string, since: StreamPosition | undefined, history: HistorySettings): Promise<StreamRead> {
    const now = this.now()
    const s = this.stream(name, history, now)
    const position = { epoch: s.epoch, offset: s.top }
    if (!since || since.epoch !== s.epoch || since.offset > s.top) {
      return Promise.resolve({ ...position, recovered: false, frames: [] })
    }
    const missed = s.top - since.offset
    if (missed > s.frames.length) return Promise.resolve({ ...position, recovered: false, frames: [] })
    return Promise.resolve({ ...position, recovered: true, frames: s.frames.slice(s.frames.length - missed) })
  }

  private append(name: string, body: string, history: HistorySettings, now: number): StreamPosition {
    const s = this.stream(name, history, now)
    s.top++
    s.frames.push(streamFrame(body, name, s.top))
    if (s.frames.length > history.size) s.frames.shift()
    s.framesUntil = now + history.ttlMs
    return { epoch: s.epoch, offset: s.top }
  }

  /** The stream, created when missing or expired; its use extends its life. */
  private stream(name: string, history: HistorySettings, now: number): Stream {
    let s = this.streams.get(name)
    if (!s || s.until <= now) {
      s = { epoch: newEpoch(), top: 0, frames: [], framesUntil: 0, until: 0 }
      this.streams.set(name, s)
    }
    if (s.framesUntil <= now) s.frames.length = 0
    s.until = now + Math.max(history.metaTtlMs, history.ttlMs)
    return s
  }

  private sweep(now: number): void {
    if (now < this.nextSweep) return
    this.nextSweep = now + SWEEP_EVERY_MS
    for (const [name, s] of this.streams) {
      if (s.until <= now) this.streams.delete(name)
      else if (s.framesUntil <= now) s.frames.length = 0
    }
  }
}
