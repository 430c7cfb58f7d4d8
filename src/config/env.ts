/**
 * Environment variables and the config keys they set. Env wins over the file.
 * Names and meanings are the seeds' (seed 001 for the gateway), plus PORT,
 * HOST, REDIS_URL, LOG_LEVEL, LOG_FORMAT and LOG_ACCESS. An empty variable counts as unset.
 */
/** `append`: the value is added to the list at `key` (the file's entries stay). */
export type EnvKind = 'string' | 'number' | 'integer' | 'boolean' | 'list' | 'append'

export interface EnvVar {
  name: string
  /** Dotted config key the variable sets. */
  key: string
  kind: EnvKind
}

export const ENV_VARS: readonly EnvVar[] = [
  { name: 'PORT', key: 'port', kind: 'integer' },
  { name: 'HOST', key: 'host', kind: 'string' },
  { name: 'REDIS_URL', key: 'redisUrl', kind: 'string' },
  { name: 'REDIS_SENTINELS', key: 'redis.sentinel.sentinels', kind: 'list' },
  { name: 'REDIS_SENTINEL_NAME', key: 'redis.sentinel.name', kind: 'string' },
  { name: 'REDIS_CLUSTER_NODES', key: 'redis.cluster.nodes', kind: 'list' },
  { name: 'LOG_LEVEL', key: 'logLevel', kind: 'string' },
  { name: 'LOG_FORMAT', key: 'log.format', kind: 'string' },
  { name: 'LOG_ACCESS', key: 'log.access', kind: 'boolean' },
  { name: 'TRUST_PROXY', key: 'trustProxy', kind: 'list' },
  { name: 'ADMIN_PORT', key: 'admin.port', kind: 'integer' },
  { name: 'LOBBY_URL', key: 'services.lobby.url', kind: 'string' },
  { name: 'MEASUREMENT_URL', key: 'services.measurement.url', kind: 'string' },
  { name: 'SIMULATION_URL', key: 'services.simulation.url', kind: 'string' },
  { name: 'INTERNAL_AUTH_TOKEN', key: 'auth.internalToken', kind: 'string' },
  { name: 'MAX_MESSAGE_BYTES', key: 'maxMessageBytes', kind: 'integer' },
  { name: 'RATE_LIMIT_RPS', key: 'rateLimit.rps', kind: 'number' },
  { name: 'RATE_LIMIT_BURST', key: 'rateLimit.burst', kind: 'number' },
  { name: 'HTTP_TIMEOUT_SECONDS', key: 'httpTimeoutSeconds', kind: 'number' },
  // `<serverPool>` is replaced by the name of `rooms.serverPool` when the config is built.
  { name: 'AVAILABLE_JANUS_SERVERS', key: 'rooms.pools.<serverPool>.nodes', kind: 'list' },
  // Seed 002.
  { name: 'API_GATEWAY_KEY', key: 'auth.apiKeys', kind: 'append' },
  { name: 'JOBS_ROOT', key: 'jobs.root', kind: 'string' },
  { name: 'CACHE_PROGRESS_FILE_THRESHOLD', key: 'jobs.progressFileThreshold', kind: 'integer' },
  { name: 'CACHE_PROGRESS_TIME_THRESHOLD', key: 'jobs.progressTimeThresholdMs', kind: 'integer' },
  { name: 'BACKEND_WS_URL', key: 'jobs.backendWsUrl', kind: 'string' },
  { name: 'S3_HEALTH_BUCKET', key: 'health.s3.bucket', kind: 'string' },
  { name: 'S3_REGION', key: 'health.s3.region', kind: 'string' },
  { name: 'S3_ENDPOINT', key: 'health.s3.endpoint', kind: 'string' },
  { name: 'S3_CHECK_INTERVAL', key: 'health.intervalMs', kind: 'integer' },
]

export const SERVER_POOL_PLACEHOLDER = '<serverPool>'

export class EnvError extends Error {
  override name = 'EnvError'
}

function parseValue(v: EnvVar, raw: string): unknown {
  switch (v.kind) {
    case 'string':
    case 'append':
      return raw
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    case 'boolean': {
      const word = raw.trim().toLowerCase()
      if (['true', '1', 'yes', 'on'].includes(word)) return true
      if (['false', '0', 'no', 'off'].includes(word)) return false
      throw new EnvError(`${v.name}: ${v.key} must be true or false, got ${JSON.stringify(raw)}`)
    }
    case 'number':
    case 'integer': {
      // Worded as the schema's errors are, after the variable's name: `PORT: port must be an integer, got "abc"`.
      const n = Number(raw.trim())
      const bad = !Number.isFinite(n) || raw.trim() === '' || (v.kind === 'integer' && !Number.isInteger(n))
      if (bad) throw new EnvError(`${v.name}: ${v.key} must be ${v.kind === 'integer' ? 'an integer' : 'a number'}, got ${JSON.stringify(raw)}`)
      return n
    }
  }
}

/** Reads the known variables from `env`: a list of (dotted key, value) overrides. */
export function readEnv(env: NodeJS.ProcessEnv): Array<{ key: string; value: unknown; from: string; append: boolean }> {
  const out: Array<{ key: string; value: unknown; from: string; append: boolean }> = []
  for (const v of ENV_VARS) {
    const raw = env[v.name]
    if (raw === undefined || raw === '') continue
    out.push({ key: v.key, value: parseValue(v, raw), from: v.name, append: v.kind === 'append' })
  }
  return out
}
