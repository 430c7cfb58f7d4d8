/**
 * Streams one request to an upstream and its answer back, through undici's
 * dispatch API: no buffering in either direction, backpressure both ways (a
 * slow client pauses the upstream read; undici pulls the upload as the
 * upstream takes it), and the client's disconnect aborts the upstream call.
 */
import type { IncomingMessage, ServerResponse, IncomingHttpHeaders } from 'node:http'
import type { Dispatcher } from 'undici'
import type { RoomgateError } from '../errors.js'
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

  constructor(
    private readonly res: ServerResponse,
    private readonly service: string,
    private readonly done: ForwardDone,
  ) {
    res.on('drain', () => this.controller?.resume())
    res.on('close', () => {
      if (this.finished) return
      this.controller?.abort(new Error('client went away'))
      this.finish(0)
    })
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller
    if (this.finished) controller.abort(new Error('client went away'))
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (statusCode < 200) return // informational answers stay between roomgate and the upstream
    this.status = statusCode
    if (statusMessage) this.res.writeHead(statusCode, statusMessage, responseHeaders(headers))
    else this.res.writeHead(statusCode, responseHeaders(headers))
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) controller.pause()
  }

  onResponseEnd(): void {
    this.res.end()
    this.finish(this.status)
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.finished) return
    const failure = upstreamFailure(this.service, err)
    // Once the status line is out, all a proxy can do is cut the response short.
    if (this.res.headersSent) {
      this.res.destroy()
      this.finish(this.status, failure)
      return
    }
    writeError(this.res, failure)
    this.finish(failure.status, failure)
  }

  private finish(status: number, error?: RoomgateError): void {
    if (this.finished) return
    this.finished = true
    this.done(status, (performance.now() - this.started) / 1000, error)
  }
}

export function forward(
  req: IncomingMessage,
  res: ServerResponse,
  upstream: Upstream,
  headers: string[],
  done: ForwardDone,
): void {
  const handler = new ProxyHandler(res, upstream.name, done)
  upstream.pool.dispatch(
    {
      path: upstream.basePath + (req.url ?? '/'),
      method: req.method as Dispatcher.HttpMethod,
      headers,
      body: hasBody(req) ? req : null,
    },
    handler,
  )
}
