/**
 * Seed 002's metrics feed on /ws. A connection that has not identified as a
 * device is a dashboard: it gets `{"type":"metrics",...}` on connect, then
 * `lucidlink-stats` and `s3-health` updates (and `health-check` for the other
 * checks). An identified device gets them only after `metrics.subscribe`.
 * Frames are serialised once per update, whatever the number of watchers.
 */
import type { Client } from '../realtime/client.js'
import type { Hub } from '../realtime/hub.js'
import type { LocalEvents } from '../realtime/local-events.js'

export class MetricsFeed {
  private readonly watchers = new Set<Client>()
  /** Connections that asked (metrics.subscribe): they keep the feed after identifying. */
  private readonly asked = new WeakSet<Client>()

  constructor(
    hub: Hub,
    local: LocalEvents,
    private readonly initial: () => object,
  ) {
    hub.onConnect((client) => {
      if (client.deviceId === undefined) this.add(client)
    })
    hub.onIdentify((client) => {
      if (!this.asked.has(client)) this.watchers.delete(client)
    })
    hub.onRemove((client) => this.watchers.delete(client))
    local.register(
      'metrics.subscribe',
      (client) => {
        this.asked.add(client)
        this.add(client)
        return { subscribed: true }
      },
      { requiresIdentity: false },
    )
    local.register(
      'metrics.unsubscribe',
      (client) => {
        this.asked.delete(client)
        this.watchers.delete(client)
        return { subscribed: false }
      },
      { requiresIdentity: false },
    )
  }

  get size(): number {
    return this.watchers.size
  }

  /** Sends one message to every watcher. */
  push(message: object): void {
    if (this.watchers.size === 0) return
    const frame = JSON.stringify(message)
    for (const c of this.watchers) c.send(frame)
  }

  private add(client: Client): void {
    if (this.watchers.has(client)) return
    this.watchers.add(client)
    client.send(JSON.stringify({ type: 'metrics', ...this.initial() }))
  }
}
