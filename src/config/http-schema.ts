/**
 * The front door's own limits (issue 11): how long a client may take to send
 * a request head or let its body go silent, how long an idle keep-alive
 * connection stays, how many bodies one client IP may be sending at once, how
 * many wrong credentials it may send; and the optional admin listener.
 */
import Type from 'typebox'

/** nginx's client_header_timeout is 60 s, HAProxy's usual `timeout http-request` 10 s. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 20_000
/** nginx's client_body_timeout: silence between two reads of a body. */
export const DEFAULT_BODY_IDLE_TIMEOUT_MS = 30_000
/** Longer than the 60 s idle timeout of common load balancers, so they never reuse a socket we are closing. */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 72_000
/** Half the default upstream pool (128): one address cannot take a service's connections. */
export const DEFAULT_MAX_UPLOADS_PER_IP = 64
export const DEFAULT_FAILED_AUTH_PER_MINUTE = 10
export const DEFAULT_FAILED_AUTH_BURST = 20
export const DEFAULT_ADMIN_HOST = '127.0.0.1'

const section = { additionalProperties: false, default: {} } as const

export const HttpSchema = Type.Object(
  {
    headersTimeoutMs: Type.Integer({
      minimum: 100,
      default: DEFAULT_HEADERS_TIMEOUT_MS,
      description: 'A request head (or a new connection with no request yet) must arrive within this; else 408 and the connection is closed.',
    }),
    bodyIdleTimeoutMs: Type.Integer({
      minimum: 100,
      default: DEFAULT_BODY_IDLE_TIMEOUT_MS,
      description: 'A request body that sends nothing for this long is answered 408 and cut (a proxied upload: the upstream call is aborted).',
    }),
    keepAliveTimeoutMs: Type.Integer({
      minimum: 100,
      default: DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
      description: 'An idle keep-alive connection is closed after this.',
    }),
    maxUploadsPerIp: Type.Integer({
      minimum: 1,
      default: DEFAULT_MAX_UPLOADS_PER_IP,
      description: 'Request bodies one client IP may be sending to one instance at once; past it 429.',
    }),
  },
  section,
)

export const FailedAuthSchema = Type.Object(
  {
    perMinute: Type.Number({ exclusiveMinimum: 0, default: DEFAULT_FAILED_AUTH_PER_MINUTE }),
    burst: Type.Integer({ minimum: 1, default: DEFAULT_FAILED_AUTH_BURST }),
  },
  {
    ...section,
    description: 'Wrong credentials one client IP may send (every check, HTTP and /ws, cluster-wide); past it every credential check from it answers 429.',
  },
)

export const AdminSchema = Type.Object(
  {
    port: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 65_535,
        description: 'A second listener for /metrics, /healthz and /readyz; when set, /metrics leaves the client port.',
      }),
    ),
    host: Type.String({ minLength: 1, default: DEFAULT_ADMIN_HOST }),
  },
  section,
)

export type HttpConfig = Type.Static<typeof HttpSchema>
export type AdminConfig = Type.Static<typeof AdminSchema>
export type FailedAuthConfig = Type.Static<typeof FailedAuthSchema>
