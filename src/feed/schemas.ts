/** Response schemas of seed 002's health and metrics routes (OpenAPI). */
import Type from 'typebox'
import { Nullable, Timestamp } from '../openapi/schemas.js'
import { PROMETHEUS } from '../probes.js'

const Ms = Nullable(Type.Number({ description: 'milliseconds' }))

export const Check = Type.Object({
  name: Type.String(),
  kind: Type.Enum(['s3', 'http']),
  target: Type.String({ description: 'The URL requested, without credentials' }),
  latency: Ms,
  averageLatency: Ms,
  isHealthy: Type.Boolean(),
  lastCheck: Nullable(Timestamp),
  checkCount: Type.Integer(),
  latencyHistory: Type.Array(Type.Number()),
  region: Type.Optional(Type.String()),
  error: Nullable(Type.String()),
  consecutiveFailures: Type.Integer(),
})

const S3Health = (withHistory: boolean) =>
  Nullable(
    Type.Object({
      latency: Ms,
      averageLatency: Ms,
      isHealthy: Type.Boolean(),
      lastCheck: Nullable(Timestamp),
      checkCount: Type.Optional(Type.Integer()),
      ...(withHistory ? { latencyHistory: Type.Array(Type.Number()) } : {}),
      region: Type.Optional(Type.String()),
      error: Type.Optional(Nullable(Type.String())),
    }),
  )

const LucidLink = Type.Object({
  throughputMbps: Type.Number(),
  timestamp: Nullable(Timestamp),
  source: Type.Optional(Type.Enum(['backend', 'workers', 'none'], { description: 'roomgate: where the figure comes from' })),
})

const Health = Type.Object({
  success: Type.Boolean(),
  status: Type.Enum(['healthy', 'degraded', 'unhealthy'], {
    description: '`unhealthy` (503) while shared state is unreachable; roomgate: `degraded` while jobs.root cannot be read (new cache jobs are refused)',
  }),
  service: Type.String(),
  database: Type.Enum(['connected', 'disconnected']),
  engine: Type.Optional(Type.Enum(['memory', 'redis'], { description: 'roomgate: the engine behind `database`' })),
  storage: Type.Optional(
    Type.Enum(['readable', 'unreadable', 'not_configured', 'checking'], { description: 'roomgate: jobs.root on this instance (`checking` until the first look ends)' }),
  ),
  storageError: Type.Optional(Type.String({ description: 'roomgate: why jobs.root cannot be read, naming it' })),
  timestamp: Timestamp,
})

export const HEALTH_SCHEMA = {
  tags: ['health'],
  summary: 'Service health (503 when shared state is unreachable)',
  response: { 200: Health, 503: Health },
}

export const METRICS_SCHEMA = {
  tags: ['health'],
  summary: 'Metrics: JSON, or Prometheus text with Accept: text/plain',
  response: {
    200: {
      description: 'JSON by default; Prometheus text when Accept asks for text/plain or OpenMetrics',
      content: {
        'application/json': {
          schema: Type.Object({
            success: Type.Literal(true),
            metrics: Type.Object({
              lucidLink: LucidLink,
              s3Health: S3Health(false),
              checks: Type.Optional(Type.Record(Type.String(), Check, { description: 'roomgate: every health check, by name' })),
              websocket: Type.Optional(
                Type.Object({ connections: Type.Integer(), devices: Type.Integer(), feedWatchers: Type.Integer() }),
              ),
            }),
            timestamp: Timestamp,
          }),
        },
        ...PROMETHEUS.content,
      },
    },
  },
}

export const S3_SCHEMA = {
  tags: ['health'],
  summary: 'S3 health with its latency history',
  response: {
    200: Type.Object({
      success: Type.Literal(true),
      s3Health: S3Health(true),
      message: Type.Optional(Type.String()),
      timestamp: Timestamp,
    }),
  },
}

/** Seed 002's metrics feed on /ws (components of the OpenAPI document). */
export const FEED_WS_SCHEMAS = [
  Type.Object(
    { type: Type.Literal('metrics'), lucidLink: LucidLink, s3Health: S3Health(false) },
    { $id: 'WsMetrics', description: 'Sent on connect to a connection that has not identified, and after metrics.subscribe' },
  ),
  Type.Object(
    { type: Type.Literal('lucidlink-stats'), lucidLink: LucidLink },
    { $id: 'WsLucidLinkStats', description: 'Read throughput, when it changes' },
  ),
  Type.Object(
    { type: Type.Literal('s3-health'), s3Health: S3Health(false) },
    { $id: 'WsS3Health', description: 'After every S3 check' },
  ),
  Type.Object({ type: Type.Literal('health-check'), check: Check }, { $id: 'WsHealthCheck', description: 'After every other check' }),
]
