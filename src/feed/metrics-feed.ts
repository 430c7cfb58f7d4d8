/**
 * Seed 002's metrics feed on /ws. A connection that has not identified as a
 * device is a dashboard: it gets `{"type":"metrics",...}` on connect, then
 * `lucidlink-stats` and `s3-health` updates (and `health-check` for the other
 * checks). An identified device gets them only after `metrics.subscribe`.
 * Frames are serialised once per update, whatever the number of watchers.
 */
import Type from 'typebox'
import type { Client } from '../realtime/client.js'
import type { Hub } from '../realtime/hub.js'
import type { LocalEvents } from '../realtime/local-events.js'
import { topics } from '../realtime/topics.js'

export class MetricsFeed {
  /** Connections that asked (metrics.subscribe): they keep the feed after identifying. */
  private readonly asked = new WeakSet<Client>()

  constructor(
    private readonly hub: Hub,
    local: LocalEvents,
    private readonly initial: () => object,
  ) {
    hub.onConnect((client) => {
      if (client.deviceId === undefined) this.add(client)
    })
    hub.onIdentify((client) => {
      if (!this.asked.has(client)) hub.leaveAll(client, topics.metrics)
    })
    local.register({
      name: 'metrics.subscribe',
      summary: "Get seed 002's metrics feed (a connection that never identified gets it anyway)",
      schema: Type.Object({}),
      requiresIdentity: false,
      handler: (client) => {
        this.asked.add(client)
        this.add(client)
        return { subscribed: true }
      },
    })
    local.register({
      name: 'metrics.unsubscribe',
      summary: 'Stop the metrics feed',
      schema: Type.Object({}),
      requiresIdentity: false,
      handler: (client) => {
        this.asked.delete(client)
        this.hub.leaveAll(client, topics.metrics)
        return { subscribed: false }
      },
    })
  }

  get size(): number {
    return this.hub.count(topics.metrics)
  }

  /** Sends one message to every watcher. */
  push(message: object): void {
    if (this.hub.has(topics.metrics)) this.hub.deliver(topics.metrics, JSON.stringify(message))
  }

  private add(client: Client): void {
    if (this.hub.membership(client, topics.metrics)) return
    this.hub.join(client, topics.metrics)
    client.send(JSON.stringify({ type: 'metrics', ...this.initial() }))
  }
}
