/**
 * The one error registry. Every error a client can see has a machine code here,
 * with its HTTP status and a default message (ERRORS), and every message with
 * words of its own is a template in MESSAGES, under a name, with the code it
 * is sent with. A throw site names one and passes arguments, never text:
 *
 *     throw new RoomgateError('job_already', { status: job.status })   // 409 conflict "Job is already completed"
 *
 * The params are checked at compile time against the template's `{name}`
 * placeholders: a name that is not registered, a param missing, misspelt or
 * extra, or a string in their place does not compile. A name without
 * placeholders takes none: `new RoomgateError('job_not_found')`. Options
 * (headers, cause, status) come third: `new RoomgateError('room_busy', undefined, { headers })`.
 * A new message is one line in MESSAGES; its text is written nowhere else.
 *
 * Two ways take a text not written here, and only such a text: `withText` (a
 * validator's or framework's message) and `fromService` (a service's own code
 * and message, passed through). `rateLimited(ms, name?, params?)` adds
 * Retry-After; `NameWith<'max'>` types a field that holds a name taking `{max}`.
 *
 * The single Fastify error handler (http-errors.ts) renders it as
 * `{"success": false, "error": "<message>", "code": "<code>"}`; on /ws one
 * function (realtime/protocol.ts `errorFrame`) puts it in seed 001's error
 * envelope. test/unit/error-registry.test.ts holds every throw site to this.
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
  config_refused: { status: 422, message: 'The new config was refused: the running one stays' },
  upstream_timeout: { status: 504, message: 'Upstream service timed out' },
} as const satisfies Record<string, { status: number; message: string }>

export type ErrorCode = keyof typeof ERRORS

/**
 * Every message with its own words: the wire code it is sent with and its
 * template. `{name}` placeholders are filled from the throw site's params.
 */
export const MESSAGES = {
  // Credentials
  bearer_invalid: { code: 'unauthorized', message: 'Missing or invalid bearer token' },
  bearer_wrong: { code: 'unauthorized', message: 'Invalid bearer token' },
  api_key_invalid: { code: 'unauthorized', message: 'Invalid or missing API key' },
  internal_token_invalid: { code: 'unauthorized', message: 'Missing or invalid X-Internal-Token' },
  internal_disabled: {
    code: 'forbidden',
    message: 'The internal API is disabled: set INTERNAL_AUTH_TOKEN (auth.internalToken) to enable it',
  },
  credentials_locked: { code: 'rate_limited', message: 'Too many wrong credentials from this address; retry in {seconds} s' },
  dashboard_credentials_wrong: { code: 'unauthorized', message: 'Wrong dashboard token or API key' },
  dashboard_not_configured: { code: 'not_configured', message: 'The dashboard needs auth.bearerTokens or auth.apiKeys in the config' },
  client_not_built: { code: 'not_found', message: 'The client library is not built in this install: run npm run build' },
  dashboard_files_missing: { code: 'not_found', message: 'The dashboard files are missing from this install' },
  token_invalid: { code: 'unauthorized', message: 'Invalid device token' },
  token_expired: { code: 'unauthorized', message: 'The device token has expired' },
  device_id_not_token: { code: 'bad_request', message: 'device_id does not match the device of the token' },
  token_other_device: { code: 'conflict', message: "The token is for another device than this connection's '{device}'" },
  device_rate_limited: { code: 'rate_limited', message: 'Too many messages from this device; retry in {ms} ms' },
  room_not_in_token: { code: 'forbidden', message: "The token's rooms claim does not include '{room}'" },
  token_required: { code: 'unauthorized', message: 'A device token is required: send ?token=, an Authorization: Bearer header, or a token in identify' },
  token_missing: { code: 'unauthorized', message: 'A device token is required: send it as Authorization: Bearer <token>' },
  // Front door and limits
  host_headers: { code: 'bad_request', message: 'A request must have exactly one Host header' },
  upgrade_elsewhere: { code: 'bad_request', message: 'WebSocket upgrades are accepted on {routes} only' },
  body_stalled: { code: 'request_timeout', message: 'The request body stopped arriving: nothing received for {ms} ms' },
  uploads_per_ip: { code: 'rate_limited', message: 'At most {max} request bodies at once per client' },
  transfer_encoding: { code: 'not_implemented', message: 'Transfer-Encoding {value} is not supported; use chunked' },
  route_not_found: { code: 'not_found', message: 'Not found: {method} {path}' },
  target_not_origin_form: { code: 'bad_request', message: 'Only origin-form request targets (/path?query) are forwarded' },
  target_fragment: { code: 'bad_request', message: 'A request target cannot carry a fragment (#)' },
  target_dot_segment: { code: 'bad_request', message: 'Path segments "." and ".." are not allowed' },
  jobs_rate_limited: { code: 'rate_limited', message: 'Too many requests, please try again later' },
  ws_server_busy: { code: 'server_busy', message: 'This server has no room for another WebSocket connection; retry later' },
  ws_per_ip: { code: 'rate_limited', message: 'At most {max} WebSocket connections per client' },
  streams_per_ip: { code: 'rate_limited', message: 'At most {max} streams per client' },
  engine_timeout: { code: 'engine_unavailable', message: 'Redis did not answer in time: the change may still be applied when it recovers' },
  engine_not_replicated: {
    code: 'engine_unavailable',
    message: 'Redis applied the change but only {acked} of {replicas} replicas confirmed it in time: a failover could lose it',
  },
  // /ws
  ws_not_json: { code: 'bad_request', message: 'Message is not valid JSON' },
  ws_not_object: { code: 'bad_request', message: 'Message must be a JSON object' },
  ws_request_id: { code: 'bad_request', message: "'request_id' must be a string or a number" },
  ws_event_missing: { code: 'bad_request', message: "Missing 'event'" },
  ws_event_too_long: { code: 'bad_request', message: "'event' is longer than {max} characters" },
  device_id_invalid: { code: 'bad_request', message: 'device_id must be a string of 1 to 256 printable characters' },
  already_identified: { code: 'conflict', message: "This connection is already identified as '{device}'" },
  event_no_route: { code: 'unknown_event', message: "No route for event '{event}'" },
  ws_rate_limited: { code: 'rate_limited', message: 'Rate limit exceeded; retry in {ms} ms' },
  ws_inflight: { code: 'rate_limited', message: 'Too many events waiting for an answer ({max}); wait for one' },
  data_missing: { code: 'bad_request', message: '{field}: is required' },
  data_invalid: { code: 'bad_request', message: '{field}: {problem}' },
  data_too_deep: { code: 'bad_request', message: "'data' is nested too deeply" },
  targets_empty: { code: 'bad_request', message: 'targets must list device_ids or rooms, or set all: true' },
  history_off: { code: 'not_configured', message: 'History is off on this server (realtime.history.size is 0)' },
  recover_forbidden: {
    code: 'forbidden',
    message: "Cannot recover '{stream}': a connection recovers its own device, all, and the rooms it has joined",
  },
  recover_running: { code: 'conflict', message: "A recover of '{stream}' is already running on this connection" },
  // Services
  service_saturated: { code: 'upstream_busy', message: 'Service {service} is saturated: {waiting} requests already waiting' },
  service_timeout: { code: 'upstream_timeout', message: 'Service {service} did not answer in time' },
  service_unavailable: { code: 'upstream_unavailable', message: 'Service {service} is unavailable' },
  service_broke: { code: 'upstream_error', message: 'Service {service} failed: the connection broke' },
  service_no_connection: { code: 'upstream_timeout', message: 'No connection to service {service} became free in time' },
  service_bad_head: { code: 'upstream_error', message: 'Service {service} sent a response head that is not valid HTTP' },
  service_reply_too_large: { code: 'upstream_error', message: 'Service {service} sent a reply over {max} bytes' },
  service_answered: { code: 'upstream_error', message: 'Service {service} answered {status}' },
  service_reply_not_json: { code: 'upstream_error', message: 'Service {service} sent a reply that is not JSON' },
  node_answer_too_large: { code: 'upstream_error', message: 'answer over {max} bytes' },
  // Rooms
  room_id_invalid: { code: 'bad_request', message: "'{field}' must be 1 to 128 letters, digits or -_.:@ (or a number)" },
  user_id_invalid: { code: 'bad_request', message: "'{field}' must be 1 to 256 characters without control characters" },
  pool_unknown: { code: 'bad_request', message: '{pool} is not a pool' },
  pool_not_shared: { code: 'bad_request', message: '{pool} is not a least-loaded or fill pool' },
  pool_needs_bearer: { code: 'unauthorized', message: 'The {pool} pool is listed only with a bearer token' },
  presence_leave_refused: {
    code: 'unauthorized',
    message: "DELETE needs the leaveToken of this presence's PUT (X-Presence-Token), or a bearer token",
  },
  room_unassigned: { code: 'room_not_found', message: "Room '{room}' has no assignment" },
  room_in_pools: { code: 'conflict', message: "Room '{room}' is assigned in several pools; add ?pool=" },
  room_unmapped: { code: 'room_not_found', message: "Room '{room}' is not mapped to a gateway" },
  room_is_stopped: { code: 'room_stopped', message: "Room '{room}' is stopped: only /progress is allowed" },
  room_busy: { code: 'conflict', message: 'Another start or stop of this room is in progress; retry' },
  no_gateway_for_room: { code: 'no_gateway_available', message: "No gateway available for room '{room}': all {nodes} are in use" },
  gateway_start_failed: { code: 'node_call_failed', message: "Gateway {node} did not start room '{room}'" },
  gateway_stop_failed: { code: 'node_call_failed', message: "Gateway {node} did not stop room '{room}'" },
  room_user_conflict: { code: 'conflict', message: "This connection is in room '{room}' as '{user}' already" },
  rooms_per_connection: { code: 'bad_request', message: 'A connection can be in at most {max} rooms' },
  room_ops_waiting: { code: 'rate_limited', message: 'Too many room operations waiting; wait for their answers' },
  // Jobs (seed 002's words)
  jobs_not_configured: { code: 'not_configured', message: 'Cache jobs are not configured on this server (jobs.root)' },
  job_id_invalid: { code: 'bad_request', message: 'Invalid job ID format' },
  job_not_found: { code: 'not_found', message: 'Job not found' },
  job_paths_missing: { code: 'bad_request', message: "Give at least one path in 'files' or 'directories'" },
  job_path_invalid: { code: 'bad_request', message: 'Invalid path: {reason}' },
  job_too_many_files: { code: 'payload_too_large', message: 'Too many files: a job may hold at most {max}' },
  job_no_files: { code: 'not_found', message: 'No files found' },
  job_already: { code: 'conflict', message: 'Job is already {status}' },
  job_watch_limit: { code: 'bad_request', message: 'A connection can watch at most {max} jobs' },
  storage_call_stalled: { code: 'storage_unavailable', message: '{call} did not answer within {seconds} s: the storage may be stalled' },
  storage_root_unreadable: { code: 'storage_unavailable', message: 'jobs.root {root} cannot be read on this instance: {cause}' },
  storage_stalled: { code: 'storage_unavailable', message: 'the storage is stalled: {stuck} calls have not answered within {seconds} s' },
  // Status
  status_refresh_limited: { code: 'rate_limited', message: 'Too many refreshes of this project; retry later' },
  project_not_found: { code: 'not_found', message: 'Project not found' },
  // Config reload
  config_refused_because: { code: 'config_refused', message: 'The new config was refused, the running one stays: {problems}' },
} as const satisfies Record<string, { code: ErrorCode; message: string }>

export type MessageName = keyof typeof MESSAGES
/** What a throw site names: a wire code (its default message) or a message of its own. */
export type ErrorName = ErrorCode | MessageName
/** A code a service sent in its own error body, passed through as it is. */
export type ServiceCode = string & { readonly service: true }

/** The template a name stands for. */
type Template<N extends ErrorName> = N extends MessageName
  ? (typeof MESSAGES)[N]['message']
  : N extends ErrorCode
    ? (typeof ERRORS)[N]['message']
    : never
/** A template's `{name}` placeholders: `'Service {service} answered {status}'` → `'service' | 'status'`. */
export type Placeholders<T extends string> = T extends `${string}{${infer P}}${infer Rest}` ? P | Placeholders<Rest> : never
type Needs<N extends ErrorName> = Placeholders<Template<N>>
/** The arguments a name's template takes, each by its placeholder. */
export type ParamsOf<N extends ErrorName> = { readonly [P in Needs<N>]: string | number }
/** What follows the name at a throw site: its params (only when its template has placeholders), then options. */
export type ArgsOf<N extends ErrorName> = [...ParamsArg<N>, options?: RoomgateErrorOptions]
type ParamsArg<N extends ErrorName> = [Needs<N>] extends [never] ? [params?: undefined] : [params: ParamsOf<N>]
/** The names whose template takes exactly the placeholders P: `NameWith<'max'>`; `NameWith` alone: none. */
export type NameWith<P extends string = never> = {
  [N in ErrorName]: [Needs<N>] extends [P] ? ([P] extends [Needs<N>] ? N : never) : never
}[ErrorName]

/** Params as the renderer sees them, unchecked: for code that handles any name. */
export type Params = Readonly<Record<string, string | number>>

export interface RoomgateErrorOptions {
  /** Extra response headers, e.g. `Retry-After`. */
  headers?: Record<string, string>
  cause?: unknown
  /**
   * The HTTP status, when it must differ from the registry's (an upstream's own
   * 4xx code passed through keeps the upstream's status).
   */
  status?: number
  /** Set on `rate_limited`: when to try again (sent as `retry_after_ms` on /ws). */
  retryAfterMs?: number
}

/** The template's `{name}` placeholders filled in. */
export function render(template: string, params: Params = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (Object.hasOwn(params, name) ? String(params[name]) : whole))
}

function lookup(name: ErrorName): { code: ErrorCode; message: string } {
  if (Object.hasOwn(MESSAGES, name)) return MESSAGES[name as MessageName]
  return { code: name as ErrorCode, message: ERRORS[name as ErrorCode].message }
}

/**
 * The error itself. Its constructor is typed below (RoomgateErrorConstructor):
 * a class constructor cannot be generic, and the params a name takes depend on it.
 */
class RegisteredError extends Error {
  readonly code: ErrorCode | ServiceCode
  readonly status: number
  readonly headers: Record<string, string> | undefined
  readonly retryAfterMs: number | undefined

  constructor(name: ErrorName, params?: Params, options: RoomgateErrorOptions = {}) {
    const { code, message } = lookup(name)
    super(render(message, params), options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'RoomgateError'
    this.code = code
    this.status = options.status ?? ERRORS[code].status
    this.headers = options.headers
    this.retryAfterMs = options.retryAfterMs
  }

  /**
   * A message written elsewhere: a validator's, a framework's, an error's own
   * (`err.message`). Never a text of our own: those live in MESSAGES.
   */
  static withText(code: ErrorCode, text: string, options: RoomgateErrorOptions = {}): RegisteredError {
    const err = new RegisteredError(code, undefined, options)
    err.message = text
    return err
  }

  /** A service's own error code and message, passed through with its status. */
  static fromService(code: string, text: string, status: number): RegisteredError {
    const err = RegisteredError.withText(status >= 500 ? 'upstream_error' : 'bad_request', text, { status })
    ;(err as { code: ErrorCode | ServiceCode }).code = code as ServiceCode
    return err
  }
}

interface RoomgateErrorConstructor extends Omit<typeof RegisteredError, 'prototype'> {
  /** `new RoomgateError('job_not_found')`: a name whose template takes no params. */
  new (name: NameWith, params?: undefined, options?: RoomgateErrorOptions): RegisteredError
  /** `new RoomgateError('job_already', { status: 'completed' })`: the params its template names, no more, no fewer. */
  new <N extends ErrorName>(name: N, ...args: ArgsOf<N>): RegisteredError
  readonly prototype: RegisteredError
}

export type RoomgateError = RegisteredError
export const RoomgateError = RegisteredError as RoomgateErrorConstructor

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

/** A 429 with its `Retry-After`: `rate_limited` or one of its messages, with that message's params. */
export function rateLimited<N extends ErrorName = 'rate_limited'>(retryAfterMs: number, name?: N, ...params: ParamsArg<N>): RoomgateError {
  const options = { headers: { 'retry-after': retryAfterSeconds(retryAfterMs) }, retryAfterMs }
  return new RegisteredError(name ?? 'rate_limited', params[0], options)
}
