/**
 * Cluster-wide broadcast. The instance that takes the request publishes it on
 * the bus; every subscribed instance, this one included, delivers to its own
 * connections and reports how many it reached. PUBLISH tells how many instances
 * got the message, so the caller waits for exactly that many counts (or
 * `ackTimeoutMs`) and answers with the total. One code path for both engines.
 *
 * Wire format on `rg:bc`: one JSON header line `{id, from, targets}`, a newline,
 * then the client frame exactly as it is sent, so no instance serialises it again.
 */
import { randomUUID } from 'node:crypto'
import { channels } from '../engine/keys.js'
import { RoomgateError } from '../errors.js'
import type { Engine } from '../engine/types.js'
import type { Logger } from '../log.js'
import type { Hub, Targets } from './hub.js'
import { eventFrame } from './protocol.js'
import { RecentKeys } from './recent-keys.js'
import type { RealtimeMetrics } from './metrics.js'

export interface BroadcastRequest {
  event: string
  data?: unknown
  targets: Targets
  /** Delivered at most once per key within RECENT_KEYS_TTL_MS, across the cluster. */
  idempotencyKey?: string
}

export interface BroadcastResult {
  /** Connections reached, summed over the instances that answered. */
  delivered: number
  /** Instances that reported their count in time. */
  instances: number
  /** Instances that got the broadcast but did not report in time. */
  unconfirmed: number
}

interface Pending {
  /** Instances that received the broadcast (Infinity until PUBLISH answers). */
  expected: number
  answered: number
  delivered: number
  done: (r: BroadcastResult) => void
  timer: NodeJS.Timeout | undefined
}

interface Header {
  id: string
  from: string
  targets: Targets
  key?: string
}

export class Broadcaster {
  private readonly pending = new Map<string, Pending>()
  private readonly ackChannel: string
  private readonly recent = new RecentKeys()

  constructor(
    private readonly engine: Engine,
    private readonly hub: Hub,
    private readonly ackTimeoutMs: number,
    private readonly metrics: RealtimeMetrics,
    private readonly log: Logger,
  ) {
    this.ackChannel = channels.broadcastAck(engine.instanceId)
  }

  async start(): Promise<void> {
    await this.engine.bus.subscribe(channels.broadcast, this.onBroadcast)
    await this.engine.bus.subscribe(this.ackChannel, this.onAck)
  }

  async close(): Promise<void> {
    for (const id of [...this.pending.keys()]) this.settle(id)
    await Promise.all([
      this.engine.bus.unsubscribe(channels.broadcast, this.onBroadcast),
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
    let frame: string
    try {
      frame = eventFrame(req.event, req.data)
    } catch (err) {
      if (err instanceof RangeError) throw new RoomgateError('bad_request', "'data' is nested too deeply")
      throw err
    }
    const header: Header = { id: randomUUID(), from: this.engine.instanceId, targets: req.targets, key: req.idempotencyKey }
    const message = `${JSON.stringify(header)}\n${frame}`
    // Counts may arrive before PUBLISH answers, so the entry exists first; the
    // wait for stragglers starts once we know how many instances to expect.
    let done!: (r: BroadcastResult) => void
    const result = new Promise<BroadcastResult>((resolve) => (done = resolve))
    const pending: Pending = { expected: Infinity, answered: 0, delivered: 0, done, timer: undefined }
    this.pending.set(header.id, pending)
    let receivers: number
    try {
      receivers = await this.engine.bus.publish(channels.broadcast, message)
    } catch (err) {
      this.pending.delete(header.id)
      throw err
    }
    this.metrics.broadcasts.inc()
    pending.expected = receivers
    if (pending.answered >= receivers) this.settle(header.id)
    else pending.timer = setTimeout(() => this.settle(header.id), this.ackTimeoutMs)
    return result
  }

  private readonly onBroadcast = (message: string): void => {
    const nl = message.indexOf('\n')
    let header: Header
    try {
      header = JSON.parse(message.slice(0, nl)) as Header
    } catch {
      this.log.warn('ignoring a malformed broadcast message on the bus')
      return
    }
    const duplicate = header.key !== undefined && !this.recent.add(header.key)
    const count = duplicate ? 0 : this.hub.deliver(header.targets, Buffer.from(message.slice(nl + 1)))
    this.metrics.deliveries.inc(count)
    if (header.from === this.engine.instanceId) {
      this.record(header.id, count)
      return
    }
    const ack = JSON.stringify({ id: header.id, count })
    this.engine.bus.publish(channels.broadcastAck(header.from), ack).catch(() => {
      // The sender will answer with the counts it has when its timeout fires.
    })
  }

  private readonly onAck = (message: string): void => {
    try {
      const { id, count } = JSON.parse(message) as { id: string; count: number }
      this.record(id, count)
    } catch {
      this.log.warn('ignoring a malformed broadcast ack on the bus')
    }
  }

  private record(id: string, count: number): void {
    const p = this.pending.get(id)
    if (!p) return
    p.answered++
    p.delivered += count
    if (p.answered >= p.expected) this.settle(id)
  }

  private settle(id: string): void {
    const p = this.pending.get(id)
    if (!p) return
    clearTimeout(p.timer)
    this.pending.delete(id)
    const expected = Number.isFinite(p.expected) ? p.expected : p.answered
    p.done({ delivered: p.delivered, instances: p.answered, unconfirmed: Math.max(0, expected - p.answered) })
  }
}
