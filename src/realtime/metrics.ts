import type { Counter, CounterChild, Histogram, Registry } from '../metrics/registry.js'
import type { Hub } from './hub.js'

/** The realtime gateway's series, resolved once. */
export class RealtimeMetrics {
  readonly messagesIn: CounterChild
  readonly messagesOut: CounterChild
  readonly rateLimited: CounterChild
  readonly disconnects: Counter
  readonly events: Counter
  readonly latency: Histogram
  readonly broadcasts: CounterChild
  readonly deliveries: CounterChild
  /** Streams asked for in `recover`, by outcome. */
  readonly recovered: CounterChild
  readonly resync: CounterChild
  /** Events sent again by `recover`. */
  readonly replayed: CounterChild

  constructor(registry: Registry, hub: Hub, latency: Histogram, rateLimited: Counter) {
    const connections = registry.gauge('roomgate_ws_connections', 'Open WebSocket connections on this instance')
    connections.onCollect(() => connections.set(hub.size))
    const devices = registry.gauge('roomgate_ws_devices', 'Identified devices connected to this instance')
    devices.onCollect(() => devices.set(hub.deviceCount))
    const messages = registry.counter('roomgate_ws_messages_total', 'WebSocket messages', ['direction'])
    this.messagesIn = messages.child('in')
    this.messagesOut = messages.child('out')
    this.rateLimited = rateLimited.child('ws')
    this.disconnects = registry.counter(
      'roomgate_ws_disconnects_total',
      'Connections closed by roomgate, by reason',
      ['reason'],
    )
    this.events = registry.counter('roomgate_ws_events_total', 'Events routed to services, by outcome', [
      'service',
      'outcome',
    ])
    this.latency = latency
    const broadcasts = registry.counter('roomgate_broadcasts_total', 'Broadcasts accepted by this instance')
    this.broadcasts = broadcasts.child()
    const deliveries = registry.counter(
      'roomgate_broadcast_deliveries_total',
      'Broadcast frames handed to connections on this instance',
    )
    this.deliveries = deliveries.child()
    const recoveries = registry.counter(
      'roomgate_ws_recoveries_total',
      'Streams a reconnecting client asked to recover, by outcome (resync: the missed events were not kept)',
      ['outcome'],
    )
    this.recovered = recoveries.child('recovered')
    this.resync = recoveries.child('resync')
    this.replayed = registry.counter('roomgate_ws_replayed_total', 'Missed events sent again to reconnecting clients').child()
  }
}
