/**
 * Sends one client event to its service: `POST {service}/gateway/handle` with
 * `{event, request_id, device_id, data}`. A 2xx JSON reply is the response's
 * data; anything else becomes a RoomgateError with the right code.
 *
 * This is the per-event hot path, so it uses undici's dispatch API directly:
 * the reply's chunks arrive in the handler (no body stream, no async
 * iterator), and the caller ends a call with `abort` (its deadline, or the
 * client leaving) instead of an AbortSignal per call.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Dispatcher } from 'undici'
import { RoomgateError } from '../errors.js'
import { upstreamFailure } from '../upstream/errors.js'
import type { Upstream } from '../upstream/pools.js'
import { busy } from '../upstream/slots.js'
import { errorFromReply } from './reply.js'

export interface EventCall {
  event: string
  request_id?: string | number
  device_id: string
  data: unknown
  /** The device token's claims, when the connection was identified by one. */
  claims?: Readonly<Record<string, unknown>>
}

/** Replies larger than this are refused: they would be pushed whole to a WebSocket client. */
export const MAX_REPLY_BYTES = 4 * 1024 * 1024

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json' }

/** One call to a service: waits for a connection slot, sends, collects the reply. */
export class ServiceCall implements Dispatcher.DispatchHandler {
  /** Settles once: the reply's data, or a RoomgateError. */
  readonly result: Promise<unknown>
  private resolve!: (value: unknown) => void
  private reject!: (err: RoomgateError) => void
  private controller: Dispatcher.DispatchController | undefined
  private release: (() => void) | undefined
  private cancelWait: () => void = () => undefined
  private status = 0
  private chunks: Buffer[] = []
  private size = 0
  private settled = false

  /** `body` is the JSON text of an `EventCall`. */
  constructor(
    private readonly upstream: Upstream,
    body: string,
  ) {
    this.result = new Promise((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
    const { pool, slots } = upstream.events
    this.cancelWait = slots.request({
      granted: (release) => {
        this.release = release
        if (this.settled) return release()
        pool.dispatch({ method: 'POST', path: `${upstream.basePath}/gateway/handle`, headers: JSON_HEADERS, body }, this)
      },
      refused: () => this.fail(busy(upstream.name, slots.maxWaiting)),
    })
  }

  /** Ends the call now (its deadline passed: a `TimeoutError`; or the client left): fails with the reason's code. */
  abort(reason: Error): void {
    if (this.settled) return
    this.fail(upstreamFailure(this.upstream.name, reason))
    this.controller?.abort(reason)
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller
    if (this.settled) controller.abort(new Error('call already ended'))
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, _headers: IncomingHttpHeaders): void {
    if (statusCode >= 200) this.status = statusCode // informational answers stay between roomgate and the service
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return
    this.size += chunk.length
    if (this.size > MAX_REPLY_BYTES) {
      this.fail(new RoomgateError('service_reply_too_large', { service: this.upstream.name, max: MAX_REPLY_BYTES }))
      controller.abort(new Error('reply too large'))
      return
    }
    this.chunks.push(chunk)
  }

  onResponseEnd(): void {
    if (this.settled) return
    const text = this.chunks.length === 1 ? this.chunks[0]!.toString('utf8') : Buffer.concat(this.chunks, this.size).toString('utf8')
    this.chunks = []
    let parsed: unknown = null
    let valid = true
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text)
      } catch {
        valid = false
      }
    }
    const name = this.upstream.name
    if (this.status >= 200 && this.status < 300) {
      if (!valid) return this.fail(new RoomgateError('service_reply_not_json', { service: name }))
      this.settle()
      this.resolve(parsed)
      return
    }
    this.fail(errorFromReply(name, this.status, valid ? parsed : undefined))
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.fail(upstreamFailure(this.upstream.name, err))
  }

  private fail(err: RoomgateError): void {
    if (this.settled) return
    this.settle()
    this.reject(err)
  }

  private settle(): void {
    this.settled = true
    this.cancelWait()
    this.release?.()
    this.release = undefined
  }
}
