/**
 * `auth.devices` (issue 13): device identity from signed tokens (JWTs) on
 * `/ws` and, per route, on the HTTP proxy. Without `required`, seed 001's
 * claimed `device_id` keeps working; tokens, when sent, are still verified.
 */
import Type from 'typebox'
import { ENV_NAME_PATTERN } from './status-schema.js'

export const DEFAULT_DEVICE_CLAIM = 'sub'
export const DEFAULT_TOKEN_LEEWAY_SECONDS = 30
export const DEFAULT_JWKS_MIN_REFETCH_SECONDS = 30
/** Keys are also read again this often, so a key withdrawn at the endpoint stops working. */
export const DEFAULT_JWKS_REFRESH_SECONDS = 300
export const DEFAULT_JWKS_TIMEOUT_MS = 5_000

const closed = { additionalProperties: false } as const
const section = { additionalProperties: false, default: {} } as const

const HmacSecret = Type.Union([
  Type.Object(
    { secretEnv: Type.String({ pattern: ENV_NAME_PATTERN, description: 'Environment variable holding an HMAC secret (HS256/384/512).' }) },
    closed,
  ),
  Type.Object({ secretFile: Type.String({ minLength: 1, description: 'File holding an HMAC secret.' }) }, closed),
])

const PublicKey = Type.Object(
  { file: Type.String({ minLength: 1, description: 'A PEM public key (SPKI) or certificate: RSA (RS/PS), EC (ES) or Ed25519 (EdDSA).' }) },
  closed,
)

export const DevicesSchema = Type.Object(
  {
    required: Type.Boolean({
      default: false,
      description: 'true: a connection gets an identity only from a valid token; ?device_id= alone is refused.',
    }),
    deviceClaim: Type.String({ minLength: 1, default: DEFAULT_DEVICE_CLAIM, description: 'The claim that becomes device_id.' }),
    issuer: Type.Optional(Type.String({ minLength: 1, description: 'Checked against `iss` when set.' })),
    audience: Type.Optional(Type.String({ minLength: 1, description: 'Checked against `aud` when set.' })),
    leewaySeconds: Type.Integer({ minimum: 0, maximum: 300, default: DEFAULT_TOKEN_LEEWAY_SECONDS }),
    hmacSecrets: Type.Array(HmacSecret, { default: [] }),
    publicKeys: Type.Array(PublicKey, { default: [] }),
    jwksUrl: Type.Optional(Type.String({ pattern: '^https?://', description: 'A JWKS endpoint; keys are picked by `kid`.' })),
    jwksMinRefetchSeconds: Type.Integer({
      minimum: 1,
      default: DEFAULT_JWKS_MIN_REFETCH_SECONDS,
      description: 'An unknown kid fetches the JWKS again at most this often.',
    }),
    jwksRefreshSeconds: Type.Integer({ minimum: 10, default: DEFAULT_JWKS_REFRESH_SECONDS }),
    jwksTimeoutMs: Type.Integer({ minimum: 100, default: DEFAULT_JWKS_TIMEOUT_MS }),
  },
  section,
)
