/**
 * The health section of the config (seed 002): the S3 bucket the seed checks
 * every few seconds, plus any extra HTTP or S3 checks. Every check runs on the
 * same interval with the same per-request deadline; their names are the keys
 * of the status API and the `check` label of the Prometheus series.
 */
import Type from 'typebox'

export const DEFAULT_HEALTH_INTERVAL_MS = 5_000
export const DEFAULT_HEALTH_TIMEOUT_MS = 3_000
export const DEFAULT_HEALTH_HISTORY_SIZE = 60
export const DEFAULT_S3_REGION = 'us-east-1'
/** The name of the seed's check (`health.s3`). */
export const SEED_S3_CHECK = 's3'

/** Also a Prometheus label value and a URL segment: keep it plain. */
export const CHECK_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'
/** S3's bucket naming rules (lowercase, digits, dots, hyphens; 3 to 63 characters). */
export const BUCKET_PATTERN = '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'
/** It becomes part of a host name and of the signature scope. */
export const REGION_PATTERN = '^[a-z0-9][a-z0-9-]{0,63}$'

const closed = { additionalProperties: false } as const

const bucket = Type.String({ pattern: BUCKET_PATTERN, description: 'Bucket checked with HEAD (HeadBucket).' })
const endpoint = Type.String({
  minLength: 1,
  description: 'http(s) URL of an S3-compatible store (MinIO, …); requests are then path-style. Absent: AWS.',
})

export const HttpCheckSchema = Type.Object(
  {
    name: Type.String({ pattern: CHECK_NAME_PATTERN }),
    kind: Type.Literal('http'),
    url: Type.String({ minLength: 1, description: 'GET; user:password in the URL is sent as Basic auth.' }),
    expectStatus: Type.Optional(
      Type.Integer({ minimum: 100, maximum: 599, description: 'The healthy status. Absent: any 2xx or 3xx.' }),
    ),
  },
  closed,
)

export const S3CheckSchema = Type.Object(
  {
    name: Type.String({ pattern: CHECK_NAME_PATTERN }),
    kind: Type.Literal('s3'),
    bucket,
    region: Type.Optional(Type.String({ pattern: REGION_PATTERN, description: 'Absent: health.s3.region.' })),
    endpoint: Type.Optional(endpoint),
  },
  closed,
)

export const HealthSchema = Type.Object(
  {
    intervalMs: Type.Integer({
      minimum: 100,
      default: DEFAULT_HEALTH_INTERVAL_MS,
      description: 'Every check runs this often (S3_CHECK_INTERVAL).',
    }),
    timeoutMs: Type.Integer({
      exclusiveMinimum: 0,
      default: DEFAULT_HEALTH_TIMEOUT_MS,
      description: 'Deadline of one check request, connection included.',
    }),
    historySize: Type.Integer({
      minimum: 1,
      maximum: 10_000,
      default: DEFAULT_HEALTH_HISTORY_SIZE,
      description: 'Latency samples kept per check (latencyHistory).',
    }),
    s3: Type.Object(
      {
        bucket: Type.Optional(bucket),
        region: Type.String({ pattern: REGION_PATTERN, default: DEFAULT_S3_REGION }),
        endpoint: Type.Optional(endpoint),
      },
      {
        ...closed,
        default: {},
        description: 'The seed\'s check, named "s3" (S3_HEALTH_BUCKET, S3_REGION, S3_ENDPOINT). No bucket: no check.',
      },
    ),
    checks: Type.Array(Type.Union([HttpCheckSchema, S3CheckSchema]), {
      default: [],
      description: 'Further checks, each with its own unique name.',
    }),
  },
  { ...closed, default: {} },
)

export type HttpCheckConfig = Type.Static<typeof HttpCheckSchema>
export type S3CheckConfig = Type.Static<typeof S3CheckSchema>
export type HealthConfig = Type.Static<typeof HealthSchema>
