/**
 * What happens to each message a client sends: rate limit, parse, identity,
 * then a local handler or the service the routing table names. Every outcome
 * is a response or an error envelope; nothing a client sends can throw out of here.
 */
import { ERRORS, rateLimited, RoomgateError } from '../errors.js'
import { OutageLog, type Logger } from '../log.js'
import type { EventRouter } from '../events/routing.js'
import { Deadlines } from '../events/deadlines.js'
import { ServiceCall, type EventCall } from '../events/dispatch.js'
import type { Upstreams } from '../upstream/pools.js'
import type { FailureLog } from '../upstream/failure-log.js'
import type { Client } from './client.js'
import type { Hub } from './hub.js'
import type { LocalEvents } from './local-events.js'
import type { RateLimitStore, Verdict } from '../ratelimit/store.js'
import type { RateRules } from '../ratelimit/rules.js'
import { errorFrame, parseInbound, responseFrame, safeStringify, type Inbound, type RequestId } from './protocol.js'
import type { RealtimeMetrics } from './metrics.js'

export interface GatewayDeps {
  hub: Hub
  router: EventRouter
  upstreams: Upstreams
  local: LocalEvents
  metrics: RealtimeMetrics
  log: Logger
  failures: FailureLog
  /** Deadline of one service call, milliseconds. */
  timeoutMs: number
  /** Service calls one connection may have waiting. */
  maxInflight: number
  /** `perDevice`: the device's own bucket across its connections and instances (rateLimit.perDevice). */
  rules: Pick<RateRules, 'perDevice'>
  rateLimits: RateLimitStore
}

export class Gateway {
  private readonly outage: OutageLog
  /** Every service call's deadline: one timer for all of them. */
  private readonly deadlines: Deadlines

  constructor(private readonly deps: GatewayDeps) {
    this.deadlines = new Deadlines(deps.timeoutMs)
    this.outage = new OutageLog(deps.log, 'per-device rate limit store unavailable; letting messages through', 'per-device rate limit store answering again')
  }

  onMessage(client: Client, raw: string): void {
    const { metrics } = this.deps
    metrics.messagesIn.inc()
    const wait = client.bucket.take(performance.now())
    const parsed = parseInbound(raw)
    const event = parsed.ok ? parsed.message.event : parsed.event
    const requestId = parsed.ok ? parsed.message.request_id : parsed.request_id

    if (wait > 0) {
      metrics.rateLimited.inc()
      this.sendError(client, event, requestId, rateLimited(wait, 'ws_rate_limited', { ms: wait }))
      return
    }
    if (!parsed.ok) {
      this.sendError(client, event, requestId, parsed.error)
      return
    }

    const message = parsed.message
    const { perDevice } = this.deps.rules
    if (perDevice && client.deviceId !== undefined) {
      const verdict = this.deps.rateLimits.take('device', client.deviceId, perDevice)
      if (!(verdict instanceof Promise)) return this.limited(client, message, verdict)
      // One connection's messages stay in order: Redis answers them in order.
      verdict.then(
        (v) => this.limited(client, message, v),
        (err: unknown) => {
          this.outage.fail(err)
          this.dispatch(client, message)
        },
      )
      return
    }
    this.dispatch(client, message)
  }

  private limited(client: Client, message: Inbound, verdict: Verdict): void {
    this.outage.ok()
    if (verdict.allowed) return this.dispatch(client, message)
    this.deps.metrics.rateLimited.inc()
    const wait = verdict.retryAfterMs
    this.sendError(client, message.event, message.request_id, rateLimited(wait, 'device_rate_limited', { ms: wait }))
  }

  /** A message that passed the limits: a local handler, or the service the routing table names. */
  private dispatch(client: Client, message: Inbound): void {
    const { local, router } = this.deps
    if (!client.open) return
    const handler = local.get(message.event)
    if (handler) {
      if (handler.requiresIdentity && client.deviceId === undefined) return this.unidentified(client, message)
      void this.answer(client, message, () => handler.run(client, message))
      return
    }
    if (client.deviceId === undefined) return this.unidentified(client, message)
    const service = router.match(message.event)
    if (service === undefined) {
      this.sendError(client, message.event, message.request_id, new RoomgateError('event_no_route', { event: message.event }))
      return
    }
    this.callService(client, client.deviceId, message, service)
  }

  /** Sends the event to its service under the connection's in-flight cap and the call deadline. */
  private callService(client: Client, deviceId: string, message: Inbound, service: string): void {
    if (client.calls.size >= this.deps.maxInflight) {
      this.deps.metrics.rateLimited.inc()
      this.sendError(client, message.event, message.request_id, new RoomgateError('ws_inflight', { max: this.deps.maxInflight }))
      return
    }
    const payload: EventCall = {
      event: message.event,
      request_id: message.request_id,
      device_id: deviceId,
      data: message.data,
      ...(client.claims ? { claims: client.claims } : {}),
    }
    const body = safeStringify(payload)
    if (body === undefined) {
      this.sendError(client, message.event, message.request_id, new RoomgateError('data_too_deep'))
      return
    }
    // The deadline bounds the whole call: the wait for a free connection, the request and the reply.
    const call = new ServiceCall(this.deps.upstreams.get(service), body)
    const deadline = this.deadlines.add(() => call.abort(new DOMException('deadline passed', 'TimeoutError')))
    client.calls.add(call)
    void this.answer(client, message, () => call.result, service).finally(() => {
      deadline.cancel()
      client.calls.delete(call)
    })
  }

  private unidentified(client: Client, message: Inbound): void {
    this.sendError(client, message.event, message.request_id, new RoomgateError('unidentified'))
  }

  /** Runs a local handler (no `service`) or a service call, and answers the client either way. */
  private async answer(client: Client, message: Inbound, run: () => unknown, service?: string): Promise<void> {
    const { metrics, log } = this.deps
    const started = performance.now()
    try {
      const data = await run()
      if (service) {
        metrics.events.child(service, 'ok').inc()
        metrics.latency.child(service, 'event').observe((performance.now() - started) / 1000)
      }
      if (client.send(responseFrame(message.event, message.request_id, data))) metrics.messagesOut.inc()
    } catch (err) {
      if (!client.open) return // it left; nobody to answer, nothing the service did wrong
      const failure = err instanceof RoomgateError ? err : new RoomgateError('internal_error')
      if (service) {
        metrics.events.child(service, Object.hasOwn(ERRORS, failure.code) ? failure.code : 'service_code').inc()
        this.deps.failures.report(service, 'event', err)
      } else if (failure.code === 'internal_error') {
        log.error({ err, event: message.event }, 'local event handler failed')
      }
      this.sendError(client, message.event, message.request_id, failure)
    }
  }

  private sendError(client: Client, event: string | undefined, requestId: RequestId | undefined, err: RoomgateError): void {
    if (client.send(errorFrame(event, requestId, err))) this.deps.metrics.messagesOut.inc()
  }
}
