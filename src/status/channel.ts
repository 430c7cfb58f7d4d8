/**
 * One status source on this instance: its SSE subscribers, the bus channel
 * that brings every new version from whichever instance wrote it, and the
 * poller. The poller runs only while this instance has subscribers, and then
 * only on the instance holding the source's lease, so the client API sees one
 * poller for the whole cluster, and none when nobody watches.
 *
 * Each stream knows the version it has. The first subscriber joins the bus
 * before reading its snapshot, and updates that arrive meanwhile are held and
 * written after it; afterwards an update older than the stream's version is
 * dropped, and a bulk update that skips a version (a message lost while the
 * bus was down, say) makes the stream get the whole snapshot again.
 */
import type { Engine } from '../engine/types.js'
import { channels } from '../engine/keys.js'
import type { Logger } from '../log.js'
import { LeaderLoop } from '../loops/leader-loop.js'
import type { StatusMessage, StatusService } from './service.js'
import { sseFrame, type SseStream } from './sse.js'

/** How often an instance with subscribers tries for the lease (and checks whether a poll is due). */
export const POLL_TICK_MS = 1_000
/** A failed bus subscription is tried again this often while there are subscribers. */
const RESUBSCRIBE_MS = 1_000

export class StatusChannel {
  readonly streams = new Set<SseStream>()
  private poller: LeaderLoop | undefined
  /** The previous poller's close: a new one starts after it, so an old release never drops a new lease. */
  private pollerClosed: Promise<void> = Promise.resolve()
  /** Joining and leaving the bus, one after the other. */
  private busOps: Promise<void> = Promise.resolve()
  private onBus = false
  private retry: NodeJS.Timeout | undefined
  /** When this instance last tried the client API as the poller (a failing API is not retried every tick). */
  private lastAttempt = 0
  private closed = false
  /** The last full snapshot frame sent to a new subscriber, by version. */
  private firstFrame: { version: number; frame: string } | undefined

  constructor(
    readonly slug: string,
    private readonly engine: Engine,
    private readonly service: StatusService,
    private readonly log: Logger,
    private readonly events: (event: string) => void,
  ) {}

  /**
   * Adds a subscriber: joins the bus and starts polling if it is the first,
   * then writes the snapshot: the cached one at once if there is one (the
   * poller brings it up to date), else a read of the client API.
   */
  async add(stream: SseStream): Promise<void> {
    if (this.closed) {
      stream.end()
      return
    }
    this.streams.add(stream)
    this.events('subscribe')
    if (this.streams.size === 1) this.activate()
    await this.busOps
    const cached = await this.engine.statusCache.get(this.slug)
    const snapshot = cached ?? (await this.service.current(this.slug))
    // A reconnect storm must not encode the same (possibly large) snapshot once per subscriber.
    if (this.firstFrame?.version !== snapshot.version) {
      this.firstFrame = { version: snapshot.version, frame: sseFrame('status_update', { statuses: snapshot.statuses }, snapshot.version) }
    }
    if (stream.snapshot(this.firstFrame.frame, snapshot.version) === 'gap') await this.resync([stream])
  }

  remove(stream: SseStream): void {
    if (!this.streams.delete(stream)) return
    if (this.streams.size === 0) void this.deactivate()
  }

  /** Writes one frame to every local subscriber (keepalive pings). */
  writeAll(frame: string | Buffer): void {
    for (const s of this.streams) s.write(frame)
  }

  async close(): Promise<void> {
    this.closed = true
    for (const s of this.streams) s.end()
    this.streams.clear()
    await this.deactivate()
    await this.busOps
  }

  private activate(): void {
    this.subscribe()
    const poller = new LeaderLoop({
      name: `status:${this.slug}`,
      intervalMs: POLL_TICK_MS,
      leases: this.engine.leases,
      log: this.log,
      run: (signal) => this.pollIfDue(signal),
    })
    this.poller = poller
    void this.pollerClosed.then(() => {
      if (this.poller === poller) poller.start()
    })
  }

  private subscribe(): void {
    this.busOps = this.busOps.then(async () => {
      if (this.onBus || this.streams.size === 0) return
      try {
        await this.engine.bus.subscribe(channels.status(this.slug), this.receive)
        this.onBus = true
      } catch (err) {
        this.log.warn({ slug: this.slug, err: (err as Error).message }, 'status updates unavailable (bus); retrying')
        clearTimeout(this.retry)
        this.retry = setTimeout(() => this.subscribe(), RESUBSCRIBE_MS)
        this.retry.unref()
      }
    })
  }

  private deactivate(): Promise<void> {
    clearTimeout(this.retry)
    const poller = this.poller
    this.poller = undefined
    this.busOps = this.busOps.then(async () => {
      if (!this.onBus || this.streams.size > 0) return
      this.onBus = false
      await this.engine.bus.unsubscribe(channels.status(this.slug), this.receive).catch(() => undefined)
    })
    if (poller) this.pollerClosed = poller.close()
    return this.pollerClosed
  }

  /** The leader's tick: reads the client API when the last read is `pollIntervalSeconds` old (the read announces changes). */
  private async pollIfDue(signal: AbortSignal): Promise<void> {
    // As the last reload left the source; one it removed is closed with its channel.
    const source = this.service.source(this.slug)
    if (!source) return
    const interval = source.pollIntervalSeconds * 1000
    if (Date.now() - this.lastAttempt < interval) return
    const last = await this.engine.statusCache.get(this.slug)
    if (last && Date.now() - last.fetchedAt < interval) return
    this.lastAttempt = Date.now()
    await this.service.read(this.slug, false, signal).catch(() => undefined) // failures are logged by the service
  }

  /** Streams that missed an update get the whole snapshot. */
  private async resync(streams: SseStream[]): Promise<void> {
    const snapshot = await this.engine.statusCache.get(this.slug).catch(() => undefined)
    if (!snapshot) return
    const frame = Buffer.from(sseFrame('status_update', { statuses: snapshot.statuses }, snapshot.version))
    for (const s of streams) {
      if (s.version >= snapshot.version) continue
      s.write(frame)
      s.version = snapshot.version
    }
  }

  private readonly receive = (raw: string): void => {
    const message = JSON.parse(raw) as StatusMessage
    // Encoded once: a string would be encoded again for every socket.
    const frame = Buffer.from(sseFrame(message.event, message.data, message.id))
    const full = message.event === 'status_update'
    this.events(message.event)
    const behind: SseStream[] = []
    for (const s of this.streams) if (s.update(frame, message.id, full) === 'gap') behind.push(s)
    if (behind.length > 0) void this.resync(behind)
  }
}
