/**
 * `recover`: what a reconnecting connection missed on its streams. For each
 * stream asked, the live events of that stream are held back for this
 * connection while its history is read; then the missed events are sent in
 * offset order (skipping any this connection was already sent live), then the
 * held ones the read did not cover. So a stream's events reach the client
 * exactly once, the replay before any later live event.
 */
import { RoomgateError } from '../../errors.js'
import type { Client } from '../client.js'
import type { Hub, Membership } from '../hub.js'
import type { RealtimeMetrics } from '../metrics.js'
import { isStream, topics } from '../topics.js'
import { Turns } from '../turns.js'
import type { HistorySettings, StreamPosition, StreamRead, StreamStore } from './types.js'

export interface StreamAnswer extends StreamPosition {
  /** Present for the streams listed in `since`. */
  recovered?: boolean
}

export interface RecoverAnswer {
  streams: Record<string, StreamAnswer>
}

/** The streams a connection may recover: its device, `all`, and the rooms it is in. */
export function streamsOfClient(client: Client): string[] {
  if (client.deviceId === undefined) return []
  const out = [topics.device(client.deviceId), topics.all]
  for (const name of client.topics.keys()) if (name.startsWith('room:')) out.push(name)
  return out
}

export class Recovery {
  private readonly turns = new Turns()

  constructor(
    private readonly hub: Hub,
    private readonly store: StreamStore,
    private readonly history: HistorySettings,
    private readonly metrics: RealtimeMetrics,
  ) {}

  async recover(client: Client, since: Record<string, StreamPosition> | undefined): Promise<RecoverAnswer> {
    if (this.history.size === 0) throw new RoomgateError('history_off')
    // A mass reconnect's recovers start one per turn of the loop, as their replays are sent (see Turns).
    await this.turns.next()
    const asked = since !== undefined && Object.keys(since).length > 0
    const names = asked ? Object.keys(since) : streamsOfClient(client)
    const memberships: Membership[] = []
    for (const name of names) {
      const m = isStream(name) ? this.hub.membership(client, name) : undefined
      if (!m) throw new RoomgateError('recover_forbidden', { stream: name })
      if (m.held) throw new RoomgateError('recover_running', { stream: name })
      memberships.push(m)
    }
    const streams: Record<string, StreamAnswer> = {}
    if (!asked) {
      const reads = await Promise.all(names.map((name) => this.store.read(name, undefined, this.history)))
      // Events at or below these positions that are still on their way come after the answer (a client
      // keeping positions takes each offset once); holding them back would break what `from` claims was sent.
      names.forEach((name, i) => (streams[name] = { epoch: reads[i]!.epoch, offset: reads[i]!.offset }))
      return { streams }
    }
    // What each stream already sent this connection live, before holding its events back.
    const sent = memberships.map((m) => sentRange(m))
    for (const m of memberships) m.held = []
    let reads: StreamRead[] | undefined
    const kept: boolean[] = []
    try {
      reads = await Promise.all(names.map((name) => this.store.read(name, since[name], this.history)))
    } finally {
      // The stream's live events stay held meanwhile: waiting changes when, not what.
      await this.turns.next()
      memberships.forEach((m, i) => (kept[i] = this.release(client, m, since[names[i]!]!, reads?.[i], sent[i])))
    }
    names.forEach((name, i) => {
      const r = reads[i]!
      // A stream the connection left meanwhile had nothing replayed.
      streams[name] = { recovered: r.recovered && kept[i]!, epoch: r.epoch, offset: r.offset }
    })
    return { streams }
  }

  /**
   * Sends the replay and the held events, and ends the hold; false when the
   * connection left the stream meanwhile. Without `read` (it failed) only the
   * held events go: a `recover` sent again with the same `since` replays the
   * rest without repeating them.
   */
  private release(client: Client, m: Membership, since: StreamPosition, read: StreamRead | undefined, sent: Sent | undefined): boolean {
    const held = m.held ?? []
    m.held = undefined
    if (this.hub.membership(client, m.topic.name) !== m) return false
    if (!read) {
      for (const h of held) client.sendPrepared(h.wire, h.payload)
      return true
    }
    if (read.recovered) {
      this.metrics.recovered.inc()
      // What it already had live is skipped; the rest leaves in one write.
      const live = sent && sent.epoch === read.epoch ? sent : undefined
      const missed = live ? read.frames.filter((_, i) => since.offset + 1 + i < live.from || since.offset + 1 + i > live.to) : read.frames
      this.metrics.replayed.inc(client.sendMany(missed))
    } else {
      this.metrics.resync.inc()
    }
    for (const h of held) if (h.epoch !== read.epoch || h.offset > read.offset) client.sendPrepared(h.wire, h.payload)
    m.replayed = { epoch: read.epoch, offset: read.offset }
    // A run that started while the history was read (a gap, a new epoch) is all this connection can be sure of.
    const topic = m.topic
    m.from = topic.run === sent?.run && topic.epoch === read.epoch ? sentFrom(since, read, sent) : undefined
    return true
  }
}

interface Sent {
  epoch: string
  from: number
  to: number
  run: number
}

function sentRange(m: Membership): Sent | undefined {
  const t = m.topic
  if (t.epoch === undefined) return undefined
  return { epoch: t.epoch, from: m.from ?? t.first, to: t.last, run: t.run }
}

/**
 * Where the connection's gap-free run of this stream starts once the recovery
 * is out: the replay, what it had live before, and the held events above the
 * read's top join up; without a replay, only if it had everything up to the top.
 */
function sentFrom(since: StreamPosition, read: StreamRead, sent: Sent | undefined): number {
  const before = sent && sent.epoch === read.epoch ? sent : undefined
  if (read.recovered) return Math.min(since.offset + 1, before?.from ?? Infinity)
  return before && before.to >= read.offset ? before.from : read.offset + 1
}
