/**
 * Turns an upstream's error reply into a client-facing error, keeping the
 * upstream's own code and message when it sends them in any of the usual
 * shapes: `{code, message}`, `{error: {code, message}}` (seed 001's envelope),
 * `{error: "...", code}` (roomgate's own) or `{detail: "..."}` (FastAPI).
 */
import { CODE_BY_STATUS, MESSAGES, render, RoomgateError, type ErrorCode } from '../errors.js'

const CODE = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/
const MAX_MESSAGE_CHARS = 1_000

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
  const fallback: ErrorCode =
    status >= 400 && status < 500 ? (CODE_BY_STATUS[status] ?? 'bad_request') : 'upstream_error'
  const text = message?.slice(0, MAX_MESSAGE_CHARS) ?? render(MESSAGES.service_answered.message, { service, status })
  if (code && CODE.test(code)) return RoomgateError.fromService(code, text, status)
  return RoomgateError.withText(fallback, text, { status })
}
