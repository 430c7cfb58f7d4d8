/**
 * The one error registry. Every error a client can see has a machine code here,
 * with its HTTP status and a default message; handlers throw `RoomgateError`
 * and the single Fastify error handler (see http-errors.ts) renders it as
 * `{"success": false, "error": "<message>", "code": "<code>"}`. WebSocket errors
 * use the same codes inside seed 001's error envelope.
 */
export const ERRORS = {
  bad_request: { status: 400, message: 'Bad request' },
  unidentified: { status: 400, message: 'Identify first: connect with ?device_id= or send an identify event' },
  unknown_event: { status: 400, message: 'No route for this event' },
  unauthorized: { status: 401, message: 'Missing or invalid credentials' },
  forbidden: { status: 403, message: 'Forbidden' },
  not_found: { status: 404, message: 'Not found' },
  room_not_found: { status: 404, message: 'Room not found' },
  method_not_allowed: { status: 405, message: 'Method not allowed' },
  request_timeout: { status: 408, message: 'The request body stopped arriving: nothing received for too long' },
  conflict: { status: 409, message: 'Conflict' },
  room_stopped: { status: 409, message: 'The room is stopped: only /progress is allowed' },
  payload_too_large: { status: 413, message: 'Request body too large' },
  unsupported_media_type: { status: 415, message: 'Unsupported media type' },
  upgrade_required: { status: 426, message: 'This endpoint speaks WebSocket: send an Upgrade request' },
  rate_limited: { status: 429, message: 'Too many requests' },
  internal_error: { status: 500, message: 'Internal server error' },
  upstream_unavailable: { status: 502, message: 'Upstream service unavailable' },
  upstream_error: { status: 502, message: 'Upstream service error' },
  not_implemented: { status: 501, message: 'Not implemented' },
  node_call_failed: { status: 502, message: 'The node did not accept the call' },
  queue_full: { status: 503, message: 'Too many jobs waiting: try again when some have finished' },
  storage_unavailable: { status: 503, message: 'The cache storage cannot be read' },
  server_busy: { status: 503, message: 'This server has no room for another stream; retry later' },
  not_configured: { status: 503, message: 'This capability is not configured on this server' },
  upstream_busy: { status: 503, message: 'Upstream service is saturated' },
  no_gateway_available: { status: 503, message: 'No gateway available: every node of the pool is in use' },
  engine_unavailable: { status: 503, message: 'Shared state is unavailable (Redis unreachable)' },
  shutting_down: { status: 503, message: 'Server is shutting down' },
  upstream_timeout: { status: 504, message: 'Upstream service timed out' },
} as const satisfies Record<string, { status: number; message: string }>

export type ErrorCode = keyof typeof ERRORS

export interface RoomgateErrorOptions {
  /** Extra response headers, e.g. `Retry-After`. */
  headers?: Record<string, string>
  cause?: unknown
  /**
   * The HTTP status, when it must differ from the registry's (an upstream's own
   * 4xx code passed through keeps the upstream's status).
   */
  status?: number
}

export class RoomgateError extends Error {
  readonly code: string
  readonly status: number
  readonly headers: Record<string, string> | undefined

  constructor(code: ErrorCode, message?: string, options?: RoomgateErrorOptions)
  /** An error code that is not ours (an upstream's), with an explicit status. */
  constructor(code: string, message: string, options: RoomgateErrorOptions & { status: number })
  constructor(code: string, message?: string, options: RoomgateErrorOptions = {}) {
    const known = (ERRORS as Record<string, { status: number; message: string }>)[code]
    super(message ?? known?.message ?? code, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'RoomgateError'
    this.code = code
    this.status = options.status ?? known?.status ?? 500
    this.headers = options.headers
  }
}

/** The generic code for an HTTP status: errors raised by Fastify itself, and upstream answers without a code. */
export const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'bad_request',
  426: 'upgrade_required',
  429: 'rate_limited',
  501: 'not_implemented',
  503: 'engine_unavailable',
}

export function codeForStatus(status: number): ErrorCode {
  return CODE_BY_STATUS[status] ?? (status >= 500 ? 'internal_error' : 'bad_request')
}

/** Seconds for a `Retry-After` header: whole seconds, at least 1. */
export function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)))
}

export function rateLimited(retryAfterMs: number, message?: string): RoomgateError {
  return new RoomgateError('rate_limited', message, { headers: { 'retry-after': retryAfterSeconds(retryAfterMs) } })
}
