/**
 * Cluster-wide broadcast. The instance that takes the request hands it to the
 * engine's stream store, which gives each named stream its next offset, keeps
 * the event in the streams' history and publishes it on the bus, in one step;
 * every subscribed instance, this one included, delivers it to its own
 * connections and reports how many it reached. The publish tells how many
 * instances got the message, so the caller waits for exactly that many counts
 * (or `ackTimeoutMs`) and answers with the total. One code path for both engines.
 *
 * With history on, each stream is delivered on its own (a connection on two
 * named streams gets the event on each, with that stream's offset), so every
 * stream's offsets reach a client without gaps. With history off, a
 * connection gets the event once, however many targets name it.
 *
 * If this instance missed some of a stream's events (its subscription dropped
 * for a moment while the others went on), they are read from the history and
 * delivered, the stream's later events waiting behind them, so its members
 * still get every offset once and in order: when the subscription is back,
 * for every stream this instance delivers; and at any stream's next event
 * that shows a gap. An offset this instance already delivered is not
 * delivered again.
 */
import { randomUUID } from 'node:crypto'
import { channels } from '../engine/keys.js'
import { RoomgateError } from '../errors.js'
import type { Engine } from '../engine/types.js'
import type { Logger } from '../log.js'
import type { HistorySettings, StreamPosition, StreamRead } from './history/types.js'
import { parseBusMessage, streamFrame, type StreamEntry } from './history/types.js'
import type { Hub } from './hub.js'
import { eventFrame } from './protocol.js'
import type { RealtimeMetrics } from './metrics.js'
import { streamsOf, topics, type Targets } from './topics.js'

export interface BroadcastRequest {
  event: string
  data?: unknown
  targets: Targets
  /** Delivered at most once per key within IDEMPOTENCY_TTL_MS, across the cluster. */
  idempotencyKey?: string
}

export interface BroadcastResult {
  /** Frames handed to connections, summed over the instances that answered. */
  delivered: number
  /** Instances that reported their count in time. */
  instances: number
  /** Instances that got the broadcast but did not report in time. */
  unconfirmed: number
}

interface Pending {
  /** Messages received by instances (Infinity until the publish answers); on a cluster, one per group of streams. */
  expected: number
  answered: number
  /** The instances that answered (an instance answers once per message it got). */
  by: Set<string>
  unnamed: number
  delivered: number
  done: (r: BroadcastResult) => void
  timer: NodeJS.Timeout | undefined
}

interface Header {
  id: string
  from: string
  targets: Targets
}

/** History reads in flight at once when the bus comes back. */
const CATCH_UP_READS = 16

interface Queued {
  position: StreamPosition
  frame: string
}

export class Broadcaster {
  private readonly pending = new Map<string, Pending>()
  private readonly ackChannel: string
  private readonly legacy: boolean
  /** Streams being repaired after a gap: their events that came meanwhile, in order. */
  private readonly repairing = new Map<string, Queued[]>()

  constructor(
    private readonly engine: Engine,
    private readonly hub: Hub,
    private readonly history: HistorySettings,
    private readonly ackTimeoutMs: number,
    private readonly metrics: RealtimeMetrics,
    private readonly log: Logger,
  ) {
    this.ackChannel = channels.broadcastAck(engine.instanceId)
    // Earlier versions published on one channel; a deployment on a Redis Cluster never had them.
    this.legacy = engine.streams.channels.includes(channels.broadcast)
  }

  async start(): Promise<void> {
    this.engine.bus.onResubscribed(() => void this.catchUp())
    await Promise.all(this.engine.streams.channels.map((c) => this.engine.bus.subscribe(c, this.onBroadcast)))
    if (this.legacy) await this.engine.bus.subscribe(channels.legacyBroadcast, this.onLegacyBroadcast)
    await this.engine.bus.subscribe(this.ackChannel, this.onAck)
  }

  async close(): Promise<void> {
    for (const id of [...this.pending.keys()]) this.settle(id)
    await Promise.all([
      ...this.engine.streams.channels.map((c) => this.engine.bus.unsubscribe(c, this.onBroadcast)),
      this.legacy && this.engine.bus.unsubscribe(channels.legacyBroadcast, this.onLegacyBroadcast),
      this.engine.bus.unsubscribe(this.ackChannel, this.onAck),
    ])
  }

  /**
   * Rejects with `engine_unavailable`, having delivered nothing anywhere, when
   * the engine is down (this instance's own subscription included: its devices
   * would silently miss the event).
   */
  async broadcast(req: BroadcastRequest): Promise<BroadcastResult> {
    if (this.engine.state() !== 'ready') throw new RoomgateError('engine_unavailable')
    let body: string
    try {
      body = eventFrame(req.event, req.data)
    } catch (err) {
      if (err instanceof RangeError) throw new RoomgateError('data_too_deep')
      throw err
    }
    const header: Header = { id: randomUUID(), from: this.engine.instanceId, targets: req.targets }
    // Counts may arrive before the publish answers, so the entry exists first; the
    // wait for stragglers starts once we know how many instances to expect.
    let done!: (r: BroadcastResult) => void
    const result = new Promise<BroadcastResult>((resolve) => (done = resolve))
    const pending: Pending = { expected: Infinity, answered: 0, by: new Set(), unnamed: 0, delivered: 0, done, timer: undefined }
    this.pending.set(header.id, pending)
    let receivers: number | undefined
    try {
      receivers = await this.engine.streams.publish({
        header: JSON.stringify(header),
        body,
        streams: streamsOf(req.targets),
        idempotencyKey: req.idempotencyKey,
        history: this.history,
      })
    } catch (err) {
      this.pending.delete(header.id)
      throw err
    }
    if (receivers === undefined) {
      // A retry of a broadcast already made: nothing was sent again.
      this.pending.delete(header.id)
      return { delivered: 0, instances: 0, unconfirmed: 0 }
    }
    this.metrics.broadcasts.inc()
    pending.expected = receivers
    if (pending.answered >= receivers) this.settle(header.id)
    else pending.timer = setTimeout(() => this.settle(header.id), this.ackTimeoutMs)
    return result
  }

  private readonly onBroadcast = (message: string): void => {
    let header: Header
    let parsed: ReturnType<typeof parseBusMessage>
    try {
      parsed = parseBusMessage(message)
      header = JSON.parse(parsed.header) as Header
    } catch {
      this.log.warn('ignoring a malformed broadcast message on the bus')
      return
    }
    this.delivered(header, this.deliver(header.targets, parsed.positions, parsed.body))
  }

  /** `header\nframe` from an instance of an earlier version: once per connection, no stream fields. */
  private readonly onLegacyBroadcast = (message: string): void => {
    const nl = message.indexOf('\n')
    let header: Header
    try {
      header = JSON.parse(message.slice(0, nl)) as Header
    } catch {
      this.log.warn('ignoring a malformed broadcast message on the bus')
      return
    }
    this.delivered(header, this.deliver(header.targets, [], message.slice(nl + 1)))
  }

  /** Counts a delivery and reports it to the instance that asked. */
  private delivered(header: Header, count: number): void {
    this.metrics.deliveries.inc(count)
    const by = this.engine.instanceId
    if (header.from === by) {
      this.record(header.id, count, by)
      return
    }
    const ack = JSON.stringify({ id: header.id, count, by })
    this.engine.bus.publish(channels.broadcastAck(header.from), ack).catch(() => {
      // The sender will answer with the counts it has when its timeout fires.
    })
  }

  private deliver(targets: Targets, positions: readonly StreamEntry[], body: string): number {
    if (positions.length === 0) {
      // History off: once per connection; `all` reaches every identified one anyway.
      return this.hub.deliverOnce(targets.all ? [topics.all] : streamsOf(targets), body)
    }
    // The first version's positions name no stream: they follow the header's streams.
    const streams = positions[0]!.stream === undefined ? streamsOf(targets) : undefined
    let count = 0
    for (let i = 0; i < positions.length; i++) {
      const position = positions[i]!
      const name = position.stream ?? streams?.[i]
      const topic = name === undefined ? undefined : this.hub.topic(name)
      if (name === undefined || !topic) continue
      const frame = streamFrame(body, name, position.offset)
      const queued = this.repairing.get(name)
      if (queued) {
        queued.push({ position, frame })
      } else if (topic.epoch === position.epoch && position.offset <= topic.last) {
        // Delivered here already: a repair read it from the history before it came.
      } else if (topic.epoch === position.epoch && position.offset > topic.last + 1) {
        this.repairing.set(name, [{ position, frame }])
        void this.repair(name, { epoch: topic.epoch, offset: topic.last })
      } else {
        count += this.hub.deliverStream(name, position, frame)
      }
    }
    return count
  }

  /** After the bus was lost: what each stream delivered here missed meanwhile, a few streams at a time. */
  private async catchUp(): Promise<void> {
    const topics = [...this.hub.positioned()]
    this.log.info({ streams: topics.length }, 'bus subscription back: reading what its streams missed')
    let next = 0
    let failed = false
    const worker = async () => {
      while (next < topics.length && !failed) {
        const topic = topics[next++]!
        if (this.repairing.has(topic.name) || this.hub.topic(topic.name) !== topic) continue
        this.repairing.set(topic.name, [])
        if (!(await this.repair(topic.name, { epoch: topic.epoch!, offset: topic.last }, false))) failed = true
      }
    }
    await Promise.all(Array.from({ length: CATCH_UP_READS }, worker))
    // The others catch up at their next event, as after any gap.
    if (failed) this.log.warn({ streams: topics.length - next }, 'could not read what the streams missed: each catches up at its next event')
  }

  /**
   * Delivers what this instance missed of a stream after `since`, then what
   * waited behind it. If the history cannot give it, the waiting events go out
   * as they are: their members see the gap in the offsets and can `recover`.
   * (The instance already reported its count for the waiting events: what a
   * repair delivers is not counted in a broadcast's answer.)
   */
  private async repair(name: string, since: StreamPosition, logFailure = true): Promise<boolean> {
    let read: StreamRead | undefined
    try {
      read = await this.engine.streams.read(name, since, this.history)
    } catch (err) {
      if (logFailure) this.log.warn({ stream: name, err: (err as Error).message }, 'could not read the events this instance missed')
    }
    const queued = this.repairing.get(name) ?? []
    this.repairing.delete(name)
    const deliver = (position: StreamPosition, frame: string) => this.metrics.deliveries.inc(this.hub.deliverStream(name, position, frame))
    if (read?.recovered) {
      // Everything the history has after `since` (the waiting events among it); those
      // still on their way here are dropped when they come (delivered already).
      if (read.frames.length > 0) this.log.info({ stream: name, from: since.offset + 1, to: read.offset }, 'delivering events this instance missed')
      read.frames.forEach((frame, i) => deliver({ epoch: read.epoch, offset: since.offset + 1 + i }, frame))
      for (const q of queued) if (q.position.epoch !== read.epoch || q.position.offset > read.offset) deliver(q.position, q.frame)
      return true
    }
    if (read && read.epoch === since.epoch) this.log.warn({ stream: name, from: since.offset + 1 }, 'events this instance missed are no longer kept')
    for (const q of queued) deliver(q.position, q.frame)
    return read !== undefined
  }

  private readonly onAck = (message: string): void => {
    try {
      const { id, count, by } = JSON.parse(message) as { id: string; count: number; by?: string }
      this.record(id, count, by)
    } catch {
      this.log.warn('ignoring a malformed broadcast ack on the bus')
    }
  }

  /** `by` is absent from the answers of earlier versions (one answer per instance). */
  private record(id: string, count: number, by: string | undefined): void {
    const p = this.pending.get(id)
    if (!p) return
    p.answered++
    if (by === undefined) p.unnamed++
    else p.by.add(by)
    p.delivered += count
    if (p.answered >= p.expected) this.settle(id)
  }

  private settle(id: string): void {
    const p = this.pending.get(id)
    if (!p) return
    clearTimeout(p.timer)
    this.pending.delete(id)
    const expected = Number.isFinite(p.expected) ? p.expected : p.answered
    p.done({ delivered: p.delivered, instances: p.by.size + p.unnamed, unconfirmed: Math.max(0, expected - p.answered) })
  }
}
