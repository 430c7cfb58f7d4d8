/**
 * Seed 001's WebSocket protocol.
 * In:  {"event": "...", "request_id": "...", "data": {...}}
 * Out: {"type": "response", event, request_id, data}
 *      {"type": "event", event, data}
 *      {"type": "error", event, request_id, error: {code, message}}
 */
import { RoomgateError, type ErrorCode, type ServiceCode } from '../errors.js'

export type RequestId = string | number

export interface Inbound {
  event: string
  request_id?: RequestId
  data: unknown
}

export type ParseResult =
  | { ok: true; message: Inbound }
  | { ok: false; error: RoomgateError; event?: string; request_id?: RequestId }

export const MAX_EVENT_NAME_CHARS = 200

const isRequestId = (v: unknown): v is RequestId =>
  (typeof v === 'string' && v.length <= 256) || (typeof v === 'number' && Number.isFinite(v))

export function parseInbound(raw: string): ParseResult {
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    return { ok: false, error: new RoomgateError('ws_not_json') }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: new RoomgateError('ws_not_object') }
  }
  const m = value as Record<string, unknown>
  const request_id = isRequestId(m.request_id) ? m.request_id : undefined
  if (m.request_id !== undefined && m.request_id !== null && request_id === undefined) {
    return { ok: false, error: new RoomgateError('ws_request_id') }
  }
  if (typeof m.event !== 'string' || m.event.length === 0) {
    return { ok: false, error: new RoomgateError('ws_event_missing'), request_id }
  }
  if (m.event.length > MAX_EVENT_NAME_CHARS) {
    return { ok: false, error: new RoomgateError('ws_event_too_long', { max: MAX_EVENT_NAME_CHARS }), request_id }
  }
  return { ok: true, message: { event: m.event, request_id, data: m.data ?? {} } }
}

/**
 * JSON text of `value`, or undefined when it is nested too deeply to serialise
 * (JSON.parse accepts depths that JSON.stringify overflows the stack on).
 */
export function safeStringify(value: unknown): string | undefined {
  try {
    return JSON.stringify(value)
  } catch (err) {
    if (err instanceof RangeError) return undefined
    throw err
  }
}

export function responseFrame(event: string, requestId: RequestId | undefined, data: unknown): string {
  return JSON.stringify({ type: 'response', event, request_id: requestId ?? null, data: data ?? null })
}

export function eventFrame(event: string, data: unknown): string {
  return JSON.stringify({ type: 'event', event, data: data ?? null })
}

export interface ErrorBody {
  code: ErrorCode | ServiceCode
  message: string
  /** Set on `rate_limited`: when to try again. */
  retry_after_ms?: number
}

/** The one builder of /ws error frames: any failure, ours or a service's, as seed 001's envelope. */
export function errorFrame(event: string | undefined, requestId: RequestId | undefined, err: RoomgateError): string {
  const error: ErrorBody = { code: err.code, message: err.message }
  if (err.retryAfterMs !== undefined) error.retry_after_ms = err.retryAfterMs
  return JSON.stringify({ type: 'error', event: event ?? null, request_id: requestId ?? null, error })
}
