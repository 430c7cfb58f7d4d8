import type { IncomingMessage } from 'node:http'

/** True when the request announces a body (a length above zero, or chunks). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length']
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

/** True when the request announced a body that has not been read to its end. */
export function bodyUnread(req: IncomingMessage): boolean {
  return !req.complete && hasBody(req)
}
