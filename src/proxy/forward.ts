/**
 * Streams one request to an upstream and its answer back, through undici's
 * dispatch API: no buffering in either direction, backpressure both ways (a
 * slow client pauses the upstream read; undici pulls the upload as the
 * upstream takes it), and the client's disconnect aborts the upstream call.
 *
 * Every exit goes through `fail` or `onResponseEnd`, so the client always gets
 * exactly one answer (or a cut connection once the status line is out), and
 * `done` is called exactly once.
 */
import type { IncomingMessage, ServerResponse, IncomingHttpHeaders } from 'node:http'
import type { Dispatcher } from 'undici'
import { RoomgateError } from '../errors.js'
import { bodyUnread, hasBody } from '../http-body.js'
import { writeError } from '../http-errors.js'
import { upstreamFailure } from '../upstream/errors.js'
import type { Upstream } from '../upstream/pools.js'
import { busy } from '../upstream/slots.js'
import { responseHeaders } from './headers.js'

/** Called once per request with the status the client got (0 when it left first). */
export type ForwardDone = (status: number, seconds: number, error?: RoomgateError) => void

class ProxyHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined
  private status = 0
  /** The answer's Content-Length, or -1: a first chunk that holds all of it ends the answer in one write. */
  private length = -1
  private wrote = false
  private ended = false
  private finished = false
  private readonly started = performance.now()
  private release: (() => void) | undefined
  // Assigned once the wait is registered; a slot can be granted (and the
  // request fail) before that assignment returns.
  private cancelWait: () => void = () => undefined

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly upstream: Upstream,
    path: string,
    headers: string[],
    timeoutMs: number,
    private readonly done: ForwardDone,
  ) {
    res.on('drain', () => this.controller?.resume())
    res.on('close', () => {
      if (this.finished) return
      // Answered in full from the first chunk: the upstream's end is due, nothing to abort.
      if (this.ended) return this.finish(this.status)
      // Finish first: the abort below reports back through onResponseError, and
      // a client that left is not an upstream failure.
      this.finish(0)
      this.controller?.abort(new Error('client went away'))
    })
    const service = upstream.name
    this.cancelWait = upstream.proxy.slots.request(
      {
        granted: (release) => {
          this.release = release
          if (this.finished) return release()
          upstream.proxy.pool.dispatch(
            {
              path: upstream.basePath + path,
              method: req.method as Dispatcher.HttpMethod,
              headers,
              body: hasBody(req) ? req : null,
            },
            this,
          )
        },
        refused: (reason) =>
          this.fail(
            reason === 'busy'
              ? busy(service, upstream.proxy.slots.maxWaiting)
              : new RoomgateError('service_no_connection', { service }),
          ),
      },
      timeoutMs,
    )
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller
    if (this.finished) controller.abort(new Error('request already answered'))
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (statusCode < 200 || this.finished) return // informational answers stay between roomgate and the upstream
    const head = responseHeaders(headers)
    // The upstream answered before the upload ended (an early 401 or 413): the
    // rest of the body will never be read, so the connection cannot be reused.
    if (bodyUnread(this.req)) head.connection = 'close'
    try {
      // The upstream's reason phrase is not forwarded: Node writes the standard
      // one, and a phrase with control characters cannot break the response.
      this.res.writeHead(statusCode, head)
    } catch (err) {
      controller.abort(err as Error)
      this.fail(new RoomgateError('service_bad_head', { service: this.upstream.name }))
      return
    }
    this.status = statusCode
    const length = head['content-length']
    if (length !== undefined) this.length = Number(length)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // The whole body in the first chunk (a small answer): head and body leave in one write.
    if (!this.wrote && chunk.length === this.length) {
      this.ended = true
      this.res.end(chunk)
      return
    }
    this.wrote = true
    if (!this.res.write(chunk)) controller.pause()
  }

  onResponseEnd(): void {
    if (this.finished) return
    if (!this.ended) this.res.end()
    this.finish(this.status)
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.fail(upstreamFailure(this.upstream.name, err))
  }

  /** The client's fault (its upload went silent): answered, and the upstream call aborted. */
  abort(error: RoomgateError): void {
    if (this.finished) return
    this.fail(error, false)
    this.controller?.abort(error)
  }

  /** `upstream`: the service is to blame, and `done` hears of it. */
  private fail(error: RoomgateError, upstream = true): void {
    if (this.finished) return
    // Once the status line is out, all a proxy can do is cut the response short.
    if (this.res.headersSent) {
      this.res.destroy()
      this.finish(this.status, upstream ? error : undefined)
      return
    }
    writeError(this.res, error, { close: bodyUnread(this.req) })
    this.finish(error.status, upstream ? error : undefined)
  }

  private finish(status: number, error?: RoomgateError): void {
    if (this.finished) return
    this.finished = true
    this.cancelWait()
    this.release?.()
    this.done(status, (performance.now() - this.started) / 1000, error)
  }
}

export function forward(
  req: IncomingMessage,
  res: ServerResponse,
  upstream: Upstream,
  path: string,
  headers: string[],
  timeoutMs: number,
  done: ForwardDone,
): { abort(error: RoomgateError): void } {
  return new ProxyHandler(req, res, upstream, path, headers, timeoutMs, done)
}
