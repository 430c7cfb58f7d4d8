/**
 * The one error handler. Handlers throw RoomgateError; Fastify's own errors
 * (validation, body too large, bad JSON) are mapped to the registry by status;
 * anything else is a bug: logged with its stack, answered 500 without details.
 */
import type { FastifyError, FastifyInstance } from 'fastify'
import type { ServerResponse } from 'node:http'
import { codeForStatus, RoomgateError } from './errors.js'

export interface ErrorBody {
  success: false
  error: string
  code: string
}

export function errorBody(err: RoomgateError): ErrorBody {
  return { success: false, error: err.message, code: err.code }
}

/** For routes that took over the raw response (the proxy). */
export function writeError(res: ServerResponse, err: RoomgateError): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const body = JSON.stringify(errorBody(err))
  res.writeHead(err.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...err.headers,
  })
  res.end(body)
}

export function toRoomgateError(err: FastifyError | RoomgateError | Error): RoomgateError {
  if (err instanceof RoomgateError) return err
  const e = err as FastifyError
  if (e.validation) {
    return new RoomgateError('bad_request', e.message)
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500
  if (status >= 400 && status < 500) return new RoomgateError(codeForStatus(status), e.message, { status })
  return new RoomgateError('internal_error')
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
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!.slice(0, 200)
    const rg = new RoomgateError('not_found', `No route for ${request.method} ${path}`)
    return reply.code(404).send(errorBody(rg))
  })
}
