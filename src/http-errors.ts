/**
 * The one error handler. Handlers throw RoomgateError; Fastify's own errors
 * (validation, body too large, bad JSON) are mapped to the registry by status;
 * anything else is a bug: logged with its stack, answered 500 without details.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'
import { bodyUnread } from './http-body.js'
import { codeForStatus, RoomgateError } from './errors.js'

export interface ErrorBody {
  success: false
  error: string
  code: string
}

export function errorBody(err: RoomgateError): ErrorBody {
  return { success: false, error: err.message, code: err.code }
}

/**
 * For routes that took over the raw response (the proxy). `close` ends the
 * connection after the answer: set it when the request body was not read to
 * the end, so its rest is never read (and never held) by the server.
 */
export function writeError(res: ServerResponse, err: RoomgateError, options: { close?: boolean } = {}): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const body = JSON.stringify(errorBody(err))
  try {
    for (const name of res.getHeaderNames()) res.removeHeader(name)
    res.writeHead(err.status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      ...(options.close ? { connection: 'close' } : {}),
      ...err.headers,
    })
    res.end(body)
  } catch {
    res.destroy()
  }
}

export function toRoomgateError(err: FastifyError | RoomgateError | Error): RoomgateError {
  if (err instanceof RoomgateError) return err
  const e = err as FastifyError
  if (e.validation) {
    return RoomgateError.withText('bad_request', e.message)
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500
  if (status >= 400 && status < 500) return RoomgateError.withText(codeForStatus(status), e.message, { status })
  return new RoomgateError('internal_error')
}

/**
 * For Fastify's `frameworkErrors` option: errors raised before routing (a URL
 * that cannot be decoded) get the same body as every other error.
 */
export function frameworkError(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const rg = toRoomgateError(err)
  void reply.code(rg.status).send(errorBody(rg))
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | RoomgateError, request, reply) => {
    const rg = toRoomgateError(err)
    if (rg.status >= 500 && !(err instanceof RoomgateError)) {
      request.log.error({ err, method: request.method, url: request.url }, 'unhandled error')
    }
    if (rg.headers) void reply.headers(rg.headers)
    return reply.code(rg.status).send(errorBody(rg))
  })
  // Answered before its body was read (refused by auth or a rate limit, a 404,
  // a route that takes no body): close the connection rather than keep reading
  // and discarding an upload of any size, or one trickled in to hold the socket.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (bodyUnread(request.raw)) void reply.header('connection', 'close')
    done(null, payload)
  })
  app.setNotFoundHandler((request, reply) => {
    const rg = routeNotFound(request)
    return reply.code(rg.status).send(errorBody(rg))
  })
}

/** The 404 of a path no route serves (also the proxy's, for a path its catch-all does not serve). */
export function routeNotFound(request: FastifyRequest): RoomgateError {
  const path = request.url.split('?')[0]!.slice(0, 200)
  return new RoomgateError('route_not_found', { method: request.method, path })
}
