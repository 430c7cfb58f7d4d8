/**
 * The connections of this instance and the one index of who is subscribed to
 * what: a topic per device (`device:<id>`), room (`room:<name>`), `all`, job
 * watch, the metrics feed and the dashboard. A delivery frames its message
 * once for every member (see wire.ts); a connection's memberships end in one
 * place when it closes.
 *
 * For the streams with history, a topic also tracks the positions it has
 * delivered, so a recovering connection is replayed exactly what it did not
 * get live (see history/recovery.ts).
 */
import { PerIpCounts } from '../ratelimit/caps.js'
import type { Client } from './client.js'
import type { StreamPosition } from './history/types.js'
import { DEVICE_PREFIX, topics } from './topics.js'
import { textFrame } from './wire.js'

export interface Held {
  epoch: string
  offset: number
  wire: Buffer
  payload: Buffer
}

export interface Membership {
  readonly topic: Topic
  /** Joins not left yet (one room joined in two pools is two). */
  refs: number
  /**
   * Streams: every offset from here to `topic.last` was sent to this
   * connection (undefined: from `topic.first`).
   */
  from: number | undefined
  /** While the connection recovers this stream: its live events, held back until the replay is sent. */
  held: Held[] | undefined
  /**
   * After a recovery: the replay sent everything up to here, so a live event
   * at or below it that comes late (a gap repair) is not sent again.
   */
  replayed: StreamPosition | undefined
}

export class Topic {
  readonly members = new Map<Client, Membership>()
  /** Streams: the epoch of the run of offsets `first`…`last` delivered here without a gap. */
  epoch: string | undefined
  first = 0
  last = 0
  /** Counts the runs: a recovery knows whether one started while it read. */
  run = 0

  constructor(readonly name: string) {}

  /** Records a delivered position; a gap or a new epoch starts a new run. */
  advance(p: StreamPosition): void {
    if (p.epoch !== this.epoch || p.offset !== this.last + 1) {
      for (const m of this.members.values()) m.from = p.offset
      this.epoch = p.epoch
      this.first = p.offset
      this.run++
    }
    this.last = p.offset
  }
}

export class Hub {
  private readonly clients = new Set<Client>()
  private readonly topics = new Map<string, Topic>()
  private devices = 0
  /** Open connections per client IP (for ws.maxConnectionsPerIp). */
  private readonly perIp = new PerIpCounts()
  private readonly removeListeners: Array<(client: Client) => void> = []
  private readonly connectListeners: Array<(client: Client) => void> = []
  private readonly identifyListeners: Array<(client: Client) => void> = []

  get size(): number {
    return this.clients.size
  }

  /** Distinct devices connected here. */
  get deviceCount(): number {
    return this.devices
  }

  /** Open connections from one client IP. */
  connectionsFrom(ip: string): number {
    return this.perIp.of(ip)
  }

  add(client: Client): void {
    if (this.clients.has(client)) return
    this.clients.add(client)
    this.perIp.add(client.ip)
  }

  identify(client: Client, deviceId: string): void {
    client.deviceId = deviceId
    this.join(client, topics.device(deviceId))
    this.join(client, topics.all)
    for (const listener of this.identifyListeners) listener(client)
  }

  /** Called once per connection, after the identity its URL carried (if any) was taken. */
  onConnect(listener: (client: Client) => void): void {
    this.connectListeners.push(listener)
  }

  /** Called when a connection identifies as a device (by URL or by an identify event). */
  onIdentify(listener: (client: Client) => void): void {
    this.identifyListeners.push(listener)
  }

  connected(client: Client): void {
    for (const listener of this.connectListeners) listener(client)
  }

  /** Called for every connection that goes away, before its memberships end. */
  onRemove(listener: (client: Client) => void): void {
    this.removeListeners.push(listener)
  }

  /** Adds the client to the topic (again: one more reference). */
  join(client: Client, name: string): Membership {
    const current = client.topics.get(name)
    if (current) {
      current.refs++
      return current
    }
    let topic = this.topics.get(name)
    if (!topic) {
      this.topics.set(name, (topic = new Topic(name)))
      if (name.startsWith(DEVICE_PREFIX)) this.devices++
    }
    const m: Membership = {
      topic,
      refs: 1,
      from: topic.epoch === undefined ? undefined : topic.last + 1,
      held: undefined,
      replayed: undefined,
    }
    topic.members.set(client, m)
    client.topics.set(name, m)
    return m
  }

  /** Drops one reference; the client leaves the topic with its last one. False if it was not in it. */
  leave(client: Client, name: string): boolean {
    const m = client.topics.get(name)
    if (!m) return false
    if (--m.refs > 0) return true
    this.end(client, m)
    return true
  }

  /** Leaves the topic whatever the references. */
  leaveAll(client: Client, name: string): boolean {
    const m = client.topics.get(name)
    if (m) this.end(client, m)
    return m !== undefined
  }

  membership(client: Client, name: string): Membership | undefined {
    return client.topics.get(name)
  }

  remove(client: Client): void {
    if (!this.clients.delete(client)) return
    this.perIp.remove(client.ip)
    // Listeners first: they read what the client was in (presence finds its rooms).
    for (const listener of this.removeListeners) listener(client)
    for (const m of client.topics.values()) this.end(client, m)
  }

  /** Members of a topic right now. */
  count(name: string): number {
    return this.topics.get(name)?.members.size ?? 0
  }

  has(name: string): boolean {
    return this.topics.has(name)
  }

  topic(name: string): Topic | undefined {
    return this.topics.get(name)
  }

  /** The topics of streams with history that have delivered something here. */
  *positioned(): Generator<Topic> {
    for (const t of this.topics.values()) if (t.epoch !== undefined) yield t
  }

  /** Sends one message to every member of the topic, framed once; returns how many took it. */
  deliver(name: string, frame: string | Buffer): number {
    const topic = this.topics.get(name)
    if (!topic) return 0
    const payload = typeof frame === 'string' ? Buffer.from(frame) : frame
    const wire = textFrame(payload)
    let count = 0
    for (const c of topic.members.keys()) if (c.sendPrepared(wire, payload)) count++
    return count
  }

  /** Sends one message once to every connection in any of the topics. */
  deliverOnce(names: readonly string[], frame: string | Buffer): number {
    if (names.length === 1) return this.deliver(names[0]!, frame)
    const recipients = new Set<Client>()
    for (const name of names) for (const c of this.topics.get(name)?.members.keys() ?? []) recipients.add(c)
    if (recipients.size === 0) return 0
    const payload = typeof frame === 'string' ? Buffer.from(frame) : frame
    const wire = textFrame(payload)
    let count = 0
    for (const c of recipients) if (c.sendPrepared(wire, payload)) count++
    return count
  }

  /**
   * Sends a stream's event at `position`: to every member, except those
   * recovering the stream, which hold it until their replay is out.
   */
  deliverStream(name: string, position: StreamPosition, frame: string): number {
    const topic = this.topics.get(name)
    if (!topic) return 0
    topic.advance(position)
    const payload = Buffer.from(frame)
    const wire = textFrame(payload)
    let count = 0
    for (const [c, m] of topic.members) {
      if (m.held) m.held.push({ ...position, wire, payload })
      else if (m.replayed && replayedAlready(m, position)) continue
      else if (c.sendPrepared(wire, payload)) count++
    }
    return count
  }

  all(): IterableIterator<Client> {
    return this.clients.values()
  }

  private end(client: Client, m: Membership): void {
    const { topic } = m
    client.topics.delete(topic.name)
    topic.members.delete(client)
    if (topic.members.size > 0 || this.topics.get(topic.name) !== topic) return
    this.topics.delete(topic.name)
    if (topic.name.startsWith(DEVICE_PREFIX)) this.devices--
  }
}

/** Whether the member's last replay already sent `p`; the mark goes once the stream is past it. */
function replayedAlready(m: Membership, p: StreamPosition): boolean {
  if (m.replayed!.epoch === p.epoch && p.offset <= m.replayed!.offset) return true
  m.replayed = undefined
  return false
}
