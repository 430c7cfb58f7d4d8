/**
 * History of the pushed streams (`device:<id>`, `room:<name>`, `all`): each
 * event published on a stream gets the stream's next offset, and the last
 * events are kept so a client that reconnects can ask for what it missed.
 *
 * The store assigns offsets, keeps the events and publishes on the bus in one
 * atomic step (one Lua script on Redis; one synchronous call in the memory
 * engine), so every instance receives a stream's events in offset order.
 *
 * The bus message is three lines: the publisher's header (JSON), the positions
 * given to its streams (a JSON array of `[epoch, offset, stream]`; `[]` when
 * history is off), and the event frame without stream fields. (Instances of
 * the first version with history wrote `[epoch, offset]`, in the order of the
 * header's streams; they are still understood.) On a Redis Cluster a
 * broadcast is one message per group of streams (see engine/keys.ts), each
 * on its group's sharded channel. A stream's frame is that frame with `"stream"` and `"offset"`
 * appended, built the same way by the store and by every receiver.
 */
import { randomBytes } from 'node:crypto'

export interface StreamPosition {
  epoch: string
  offset: number
}

export interface HistorySettings {
  /** Events kept per stream; 0 = history off. */
  size: number
  /** A stream's events are dropped this long after its last event. */
  ttlMs: number
  /** Its epoch and top offset are kept this long after it was last used. */
  metaTtlMs: number
}

export interface Publication {
  /** The first line of the bus message: what receivers need to route it. */
  header: string
  /** `{"type":"event","event":…,"data":…}`, exactly as clients get it without history. */
  body: string
  /** The streams it is for (distinct; see topics.ts `streamsOf`): appended to unless history is off. */
  streams: readonly string[]
  /** A retried publication with the same key within IDEMPOTENCY_TTL_MS is dropped. */
  idempotencyKey?: string
  history: HistorySettings
}

export interface StreamRead extends StreamPosition {
  /** Whether `frames` holds every event after the position asked for. */
  recovered: boolean
  /** Those events' frames, oldest first (empty unless recovered). */
  frames: string[]
}

/** A position given to a stream by a publication. */
export interface StreamEntry extends StreamPosition {
  /** Absent in messages of the first version: then the header's streams, in order. */
  stream?: string
}

export interface StreamStore {
  /** The channels its publications go out on: every instance subscribes to all of them. */
  readonly channels: readonly string[]
  /**
   * Appends the event to each stream and publishes it, in one step (on a
   * Redis Cluster, one step per group of streams). Resolves with how many instances received it, or `undefined` for a
   * duplicate idempotency key (nothing stored, nothing published).
   */
  publish(p: Publication): Promise<number | undefined>
  /**
   * The stream's current position and, when `since` is given, its events after
   * `since.offset` if the epoch matches and none of them was trimmed. A stream
   * never written gets its epoch here, so a position read now stays valid.
   */
  read(stream: string, since: StreamPosition | undefined, history: HistorySettings): Promise<StreamRead>
}

/** How long an idempotency key is remembered, cluster-wide. */
export const IDEMPOTENCY_TTL_MS = 5 * 60_000

/** The frame of one stream's event: `body` with its two stream fields appended. */
export function streamFrame(body: string, stream: string, offset: number): string {
  return `${body.slice(0, -1)},"stream":${JSON.stringify(stream)},"offset":${offset}}`
}

export function busMessage(header: string, positions: readonly Required<StreamEntry>[], body: string): string {
  return `${header}\n${JSON.stringify(positions.map((p) => [p.epoch, p.offset, p.stream]))}\n${body}`
}

export interface BusMessage {
  header: string
  positions: StreamEntry[]
  body: string
}

/** Throws on a malformed message. */
export function parseBusMessage(message: string): BusMessage {
  const a = message.indexOf('\n')
  const b = message.indexOf('\n', a + 1)
  if (a < 0 || b < 0) throw new Error('malformed bus message')
  const raw = JSON.parse(message.slice(a + 1, b)) as Array<[string, number, string?]>
  return {
    header: message.slice(0, a),
    positions: raw.map(([epoch, offset, stream]) => (stream === undefined ? { epoch, offset } : { epoch, offset, stream })),
    body: message.slice(b + 1),
  }
}

/** A new epoch: random, short, JSON-safe. */
export function newEpoch(): string {
  return randomBytes(6).toString('base64url')
}
