/**
 * Turns an upstream's error reply into a client-facing error, keeping the
 * upstream's own code and message when it sends them in any of the usual
 * shapes: `{code, message}`, `{error: {code, message}}` (seed 001's envelope),
 * `{error: "...", code}` (roomgate's own) or `{detail: "..."}` (FastAPI).
 */
import { RoomgateError, type ErrorCode } from '../errors.js'

const CODE = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/
const MAX_MESSAGE_CHARS = 1_000

const BY_STATUS: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'bad_request',
  429: 'rate_limited',
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined)

function pick(body: unknown): { code?: string; message?: string } {
  if (typeof body !== 'object' || body === null) return {}
  const b = body as Record<string, unknown>
  const nested = typeof b.error === 'object' && b.error !== null ? (b.error as Record<string, unknown>) : undefined
  const code = str(nested?.code) ?? str(b.code)
  const message = str(nested?.message) ?? str(b.message) ?? str(b.error) ?? str(b.detail)
  return { code, message }
}

export function errorFromReply(service: string, status: number, body: unknown): RoomgateError {
  const { code, message } = pick(body)
  // A redirect or any other non-2xx the gateway cannot follow is the service's failure, not the client's.
  const fallback: ErrorCode = BY_STATUS[status] ?? (status >= 400 && status < 500 ? 'bad_request' : 'upstream_error')
  const text = message?.slice(0, MAX_MESSAGE_CHARS) ?? `Service ${service} answered ${status}`
  if (code && CODE.test(code)) return new RoomgateError(code, text, { status })
  return new RoomgateError(fallback, text, { status })
}
