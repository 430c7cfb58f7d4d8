/**
 * The status section of the config (seed 004): the client APIs whose unit
 * statuses roomgate proxies, one source per project slug. The seed kept the
 * credentials in its database in clear; here the config only names where a
 * secret lives (an environment variable or a file), never the secret itself:
 * there is no field for it, and closed objects make `token: x` an error.
 *
 * `checkStatusConfig` adds what JSON Schema cannot say (unique slugs, URLs
 * that parse, variables that are set, files that can be read) and explains a
 * bad `auth` better than the union's "must match a schema in anyOf". It reads
 * its input defensively, so the loader may also call it on a tree the schema
 * rejected.
 */
import { httpUrl } from './urls.js'
import Type from 'typebox'
import Value from 'typebox/value'
import { readSecretFile, secretValueProblem } from '../status/credentials.js'

export const DEFAULT_STATUS_KEEPALIVE_SECONDS = 30
export const DEFAULT_STATUS_REFRESH_PER_MINUTE = 6
export const DEFAULT_STATUS_MAX_SUBSCRIBERS = 10_000
export const DEFAULT_STATUS_POLL_INTERVAL_SECONDS = 30
export const DEFAULT_STATUS_CACHE_TTL_SECONDS = 30
export const DEFAULT_STATUS_TIMEOUT_SECONDS = 10
export const DEFAULT_STATUS_RETRY_COUNT = 2
export const DEFAULT_API_KEY_HEADER = 'X-API-Key'
/** A day: longer periods would overflow a Node timer (which then fires at once, in a loop). */
export const MAX_STATUS_PERIOD_SECONDS = 86_400

/** The slug is a URL segment (`/api/public/{slug}/status`) and part of Redis keys: lowercase, plain. */
export const STATUS_SLUG_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$'
export const ENV_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$'
/** An HTTP field name (RFC 9110 token). */
export const HEADER_NAME_PATTERN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
/** Standard statuses are what viewers see; keep them plain identifiers. */
export const STANDARD_STATUS_PATTERN = '^[a-z][a-z0-9_]{0,31}$'

/** Where each auth type keeps its secret: `tokenEnv`/`tokenFile`, `keyEnv`/`keyFile`, `passwordEnv`/`passwordFile`. */
export const AUTH_SECRET_FIELD = { bearer: 'token', api_key: 'key', basic: 'password' } as const
export type StatusAuthType = keyof typeof AUTH_SECRET_FIELD

/** Headers an API key may not replace: undici refuses them, or they would break the request. */
const RESERVED_HEADERS = new Set([
  'accept',
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
])
/** Fields someone might try to write a secret into. */
const LITERAL_SECRET_FIELDS = ['token', 'key', 'apiKey', 'api_key', 'password', 'secret', 'credentials']

const closed = { additionalProperties: false } as const

const envName = (what: string) =>
  Type.String({ pattern: ENV_NAME_PATTERN, description: `Environment variable holding the ${what}.` })
const fileName = (what: string) =>
  Type.String({
    minLength: 1,
    description: `File holding the ${what} (one trailing newline is ignored); read again at most a minute later, so rotation works.`,
  })

export const BearerAuthSchema = Type.Union(
  [
    Type.Object({ type: Type.Literal('bearer'), tokenEnv: envName('token') }, closed),
    Type.Object({ type: Type.Literal('bearer'), tokenFile: fileName('token') }, closed),
  ],
  { description: '`Authorization: Bearer <token>`.' },
)

const header = Type.String({
  pattern: HEADER_NAME_PATTERN,
  default: DEFAULT_API_KEY_HEADER,
  description: 'Header that carries the key.',
})
export const ApiKeyAuthSchema = Type.Union(
  [
    Type.Object({ type: Type.Literal('api_key'), header, keyEnv: envName('key') }, closed),
    Type.Object({ type: Type.Literal('api_key'), header, keyFile: fileName('key') }, closed),
  ],
  { description: '`<header>: <key>`.' },
)

// RFC 7617: the user-id cannot contain a colon. The user name is not a secret.
const username = Type.String({ minLength: 1, pattern: '^[^:\\u0000-\\u001f\\u007f]+$' })
export const BasicAuthSchema = Type.Union(
  [
    Type.Object({ type: Type.Literal('basic'), username, passwordEnv: envName('password') }, closed),
    Type.Object({ type: Type.Literal('basic'), username, passwordFile: fileName('password') }, closed),
  ],
  { description: '`Authorization: Basic base64(username:password)`.' },
)

const AUTH_SCHEMAS = { bearer: BearerAuthSchema, api_key: ApiKeyAuthSchema, basic: BasicAuthSchema } as const

export const StatusAuthSchema = Type.Union([BearerAuthSchema, ApiKeyAuthSchema, BasicAuthSchema], {
  description: 'How roomgate authenticates to the client API; the secret comes from an env var or a file.',
})

const seconds = (minimum: { minimum: number } | { exclusiveMinimum: number }, value: number, description: string) =>
  Type.Number({ ...minimum, maximum: MAX_STATUS_PERIOD_SECONDS, default: value, description })

export const StatusSourceSchema = Type.Object(
  {
    slug: Type.String({ pattern: STATUS_SLUG_PATTERN, description: 'Project slug: /api/public/{slug}/status.' }),
    url: Type.String({ minLength: 1, description: "The client's status endpoint (http or https), read with GET." }),
    auth: Type.Optional(StatusAuthSchema),
    mapping: Type.Record(
      Type.String({ pattern: STANDARD_STATUS_PATTERN }),
      Type.Array(Type.String({ minLength: 1 }), { description: 'Client values, compared without case.' }),
      {
        // Not additionalProperties: false, on which TypeBox's Value.Default throws for a key that does not match.
        propertyNames: { pattern: STANDARD_STATUS_PATTERN },
        default: {},
        description: 'Standard status -> the client values that mean it. Any other client value means "available".',
      },
    ),
    pollIntervalSeconds: seconds(
      { minimum: 1 },
      DEFAULT_STATUS_POLL_INTERVAL_SECONDS,
      'The client API is read this often while someone watches.',
    ),
    cacheTtlSeconds: seconds(
      { minimum: 1 },
      DEFAULT_STATUS_CACHE_TTL_SECONDS,
      'Statuses younger than this are served from the cache.',
    ),
    timeoutSeconds: seconds({ exclusiveMinimum: 0 }, DEFAULT_STATUS_TIMEOUT_SECONDS, 'Deadline of one request, body included.'),
    retryCount: Type.Integer({
      minimum: 0,
      maximum: 10,
      default: DEFAULT_STATUS_RETRY_COUNT,
      description: 'Further attempts after a failed one, 1 s x attempt apart.',
    }),
    active: Type.Boolean({ default: true, description: 'Inactive: the slug answers 404 and is never read.' }),
  },
  closed,
)

export const StatusSchema = Type.Object(
  {
    keepaliveSeconds: seconds({ exclusiveMinimum: 0 }, DEFAULT_STATUS_KEEPALIVE_SECONDS, 'An SSE `ping` to every subscriber this often.'),
    refreshPerMinute: Type.Number({
      exclusiveMinimum: 0,
      default: DEFAULT_STATUS_REFRESH_PER_MINUTE,
      description: 'POST /refresh allowance per slug, for the whole cluster.',
    }),
    maxSubscribers: Type.Integer({
      minimum: 1,
      default: DEFAULT_STATUS_MAX_SUBSCRIBERS,
      description: 'SSE subscribers one instance accepts; past it new streams are refused (503).',
    }),
    maxSubscribersPerIp: Type.Integer({
      minimum: 1,
      default: 100,
      description: 'SSE streams one client IP may hold open on one instance; past it 429.',
    }),
    sources: Type.Array(StatusSourceSchema, { default: [], description: 'One per project slug, each slug once.' }),
  },
  { ...closed, default: {} },
)

export type StatusConfig = Type.Static<typeof StatusSchema>
export type StatusSourceConfig = Type.Static<typeof StatusSourceSchema>
export type StatusAuthConfig = NonNullable<StatusSourceConfig['auth']>

/**
 * Schema errors at these paths (`/status/sources/0/auth…`) are the union's
 * mismatches with every variant; `checkStatusConfig` names the actual mistake,
 * so a loader may drop those errors and report its messages instead.
 */
export const STATUS_AUTH_PATH = /^\/status\/sources\/\d+\/auth(\/|$)/

type Tree = Record<string, unknown>
const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Problems with the status section, each naming its dotted key. */
export function checkStatusConfig(config: { readonly status: StatusConfig }, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = []
  const sources: unknown = (config.status as unknown as Tree | undefined)?.sources
  if (!Array.isArray(sources)) return problems
  const slugs = new Map<string, string>()
  sources.forEach((source: unknown, i) => {
    const at = `status.sources[${i}]`
    if (!isTree(source)) return // the schema says it
    if (typeof source.slug === 'string') {
      const taken = slugs.get(source.slug)
      if (taken !== undefined) problems.push(`${at}.slug ${JSON.stringify(source.slug)} is already used by ${taken}`)
      else slugs.set(source.slug, at)
    }
    if (typeof source.url === 'string') {
      const problem = urlProblem(source.url)
      if (problem) problems.push(`${at}.url ${problem}`)
    }
    if (source.auth !== undefined) problems.push(...authProblems(source.auth, `${at}.auth`, source.active !== false, env))
    if (isTree(source.mapping)) problems.push(...mappingProblems(source.mapping, `${at}.mapping`))
  })
  return problems
}

function urlProblem(text: string): string | undefined {
  const url = httpUrl(text)
  if (typeof url === 'string') return url
  // Credentials in the URL would be a secret written in clear: use auth.
  if (url.username || url.password) return 'must not carry a user or password (use auth)'
  if (url.hash) return 'must not have a fragment'
  return undefined
}

/**
 * The auth shape, told apart by `type` and by which of `…Env`/`…File` is
 * given, then checked against that one variant; for a source that will be
 * read, the secret itself must be there.
 */
function authProblems(auth: unknown, at: string, active: boolean, env: NodeJS.ProcessEnv): string[] {
  const types = Object.keys(AUTH_SECRET_FIELD).map((t) => JSON.stringify(t))
  if (!isTree(auth)) return [`${at} must be a mapping with type ${types.join(', ')}`]
  const type = auth.type
  if (typeof type !== 'string' || !Object.hasOwn(AUTH_SECRET_FIELD, type)) {
    return [`${at}.type must be one of ${types.join(', ')}`]
  }
  const field = AUTH_SECRET_FIELD[type as StatusAuthType]
  const [envKey, fileKey] = [`${field}Env`, `${field}File`]
  const literal = LITERAL_SECRET_FIELDS.filter((k) => Object.hasOwn(auth, k))
  if (literal.length > 0) {
    return literal.map((k) => `${at}.${k}: a secret may not be written in the config; name it with ${envKey} or ${fileKey}`)
  }
  const hasEnv = auth[envKey] !== undefined
  const hasFile = auth[fileKey] !== undefined
  if (hasEnv && hasFile) return [`${at}: give ${envKey} or ${fileKey}, not both`]
  if (!hasEnv && !hasFile) return [`${at}: ${envKey} or ${fileKey} is required for type ${JSON.stringify(type)}`]

  const variant = AUTH_SCHEMAS[type as StatusAuthType].anyOf[hasEnv ? 0 : 1]!
  const shape = [...Value.Errors(variant, Value.Default(variant, structuredClone(auth)))]
    .map((e) => schemaProblem(e as unknown as SchemaError, at))
    .filter((m): m is string => m !== undefined)
  if (shape.length > 0) return [...new Set(shape)]
  if (type === 'api_key' && typeof auth.header === 'string' && RESERVED_HEADERS.has(auth.header.toLowerCase())) {
    return [`${at}.header ${JSON.stringify(auth.header)} cannot carry an API key`]
  }
  if (!active) return []

  if (hasEnv) {
    const name = auth[envKey] as string
    const value = env[name]
    if (value === undefined) return [`${at}.${envKey}: ${name} is not set`]
    const problem = secretValueProblem(value)
    return problem ? [`${at}.${envKey}: ${name} ${problem}`] : []
  }
  const file = auth[fileKey] as string
  try {
    const problem = secretValueProblem(readSecretFile(file, { cached: false }))
    return problem ? [`${at}.${fileKey}: ${file} ${problem}`] : []
  } catch (err) {
    return [`${at}.${fileKey}: ${(err as Error).message}`]
  }
}

/** A client value listed under two standard statuses would silently take the last one. */
function mappingProblems(mapping: Tree, at: string): string[] {
  const problems: string[] = []
  const owner = new Map<string, string>()
  for (const [standard, values] of Object.entries(mapping)) {
    if (!Array.isArray(values)) continue
    values.forEach((value: unknown, j) => {
      if (typeof value !== 'string') return
      const key = value.toLowerCase()
      const first = owner.get(key)
      if (first !== undefined && first !== standard) {
        problems.push(`${at}.${standard}[${j}] ${JSON.stringify(value)} is already mapped to ${first}`)
      } else owner.set(key, standard)
    })
  }
  return problems
}

interface SchemaError {
  keyword: string
  instancePath: string
  message: string
  params: Record<string, unknown>
}

function schemaProblem(err: SchemaError, at: string): string | undefined {
  const key = at + err.instancePath.split('/').slice(1).map((p) => `.${p}`).join('')
  switch (err.keyword) {
    case 'boolean':
      return undefined // the matching additionalProperties error says it better
    case 'additionalProperties':
      return `${(err.params.additionalProperties as string[]).map((p) => `${key}.${p}`).join(', ')}: unknown setting`
    default:
      return `${key} ${err.message}`
  }
}
