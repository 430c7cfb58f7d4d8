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
import { writeError } from '../http-errors.js'
import { upstreamFailure } from '../upstream/errors.js'
import type { Upstream } from '../upstream/pools.js'
import { responseHeaders } from './headers.js'

/** Called once per request with the status the client got (0 when it left first). */
export type ForwardDone = (status: number, seconds: number, error?: RoomgateError) => void

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length']
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

class ProxyHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined
  private status = 0
  private finished = false
  private readonly started = performance.now()
  /** Bounds the wait for a pooled connection: undici's own timeouts start only once the request is on a socket. */
  private readonly queueTimer: NodeJS.Timeout

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly service: string,
    timeoutMs: number,
    private readonly done: ForwardDone,
  ) {
    this.queueTimer = setTimeout(() => {
      this.fail(new RoomgateError('upstream_timeout', `No connection to service ${service} became free in time`))
    }, timeoutMs)
    res.on('drain', () => this.controller?.resume())
    res.on('close', () => {
      if (this.finished) return
      this.controller?.abort(new Error('client went away'))
      this.finish(0)
    })
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    clearTimeout(this.queueTimer)
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
    if (!this.req.complete) head.connection = 'close'
    try {
      // The upstream's reason phrase is not forwarded: Node writes the standard
      // one, and a phrase with control characters cannot break the response.
      this.res.writeHead(statusCode, head)
    } catch (err) {
      controller.abort(err as Error)
      this.fail(new RoomgateError('upstream_error', `Service ${this.service} sent a response head that is not valid HTTP`))
      return
    }
    this.status = statusCode
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) controller.pause()
  }

  onResponseEnd(): void {
    if (this.finished) return
    this.res.end()
    this.finish(this.status)
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.fail(upstreamFailure(this.service, err))
  }

  private fail(error: RoomgateError): void {
    if (this.finished) return
    clearTimeout(this.queueTimer)
    // Once the status line is out, all a proxy can do is cut the response short.
    if (this.res.headersSent) {
      this.res.destroy()
      this.finish(this.status, error)
      return
    }
    writeError(this.res, error, { close: !this.req.complete })
    this.finish(error.status, error)
  }

  private finish(status: number, error?: RoomgateError): void {
    if (this.finished) return
    this.finished = true
    clearTimeout(this.queueTimer)
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
): void {
  const handler = new ProxyHandler(req, res, upstream.name, timeoutMs, done)
  upstream.pool.dispatch(
    {
      path: upstream.basePath + path,
      method: req.method as Dispatcher.HttpMethod,
      headers,
      body: hasBody(req) ? req : null,
    },
    handler,
  )
}
