/** Response schemas of seed 002's job API (OpenAPI); request schemas live with the routes. */
import Type from 'typebox'
import { errors, Nullable, SECURITY, Timestamp } from '../openapi/schemas.js'

const Status = Type.Enum(['pending', 'running', 'completed', 'failed', 'cancelled'])
const Percent = Type.Number({ minimum: 0, maximum: 100 })

const Job = Type.Object({
  id: Type.String({ format: 'uuid' }),
  status: Status,
  totalFiles: Type.Integer(),
  progress: Type.Object({
    files: Type.Object({ completed: Type.Integer(), failed: Type.Integer(), total: Type.Integer(), percentage: Percent }),
    size: Type.Object({
      completedBytes: Type.Integer(),
      totalBytes: Type.Integer(),
      completedReadable: Type.String(),
      totalReadable: Type.String(),
      percentage: Percent,
    }),
    percentage: Type.Number({ description: 'The mean of the file and size percentages' }),
  }),
  throughput: Nullable(
    Type.Object(
      { mbps: Type.Number(), readable: Type.String(), timestamp: Timestamp },
      { description: 'Shown while the job runs and the figure is fresh' },
    ),
  ),
  createdAt: Timestamp,
  startedAt: Nullable(Timestamp),
  completedAt: Nullable(Timestamp),
  error: Nullable(Type.String()),
})

const ListEntry = Type.Object({
  id: Type.String({ format: 'uuid' }),
  status: Status,
  totalFiles: Type.Integer(),
  totalSizeBytes: Type.Integer(),
  totalSizeReadable: Type.String(),
  completedFiles: Type.Integer(),
  failedFiles: Type.Optional(Type.Integer()),
  completedSizeBytes: Type.Integer(),
  completedSizeReadable: Type.String(),
  createdAt: Timestamp,
  startedAt: Type.Optional(Nullable(Timestamp)),
  completedAt: Nullable(Timestamp),
})

const Created = Type.Object({
  success: Type.Literal(true),
  jobId: Type.String({ format: 'uuid' }),
  status: Status,
  totalFiles: Type.Integer(),
  totalSize: Type.Object({ bytes: Type.Integer(), readable: Type.String() }),
  notFound: Type.Optional(Type.Array(Type.String(), { description: 'Inputs that matched nothing (at most 100 shown)' })),
  message: Type.String(),
  createdAt: Timestamp,
})

const guarded = ['unauthorized', 'rate_limited', 'engine_unavailable'] as const
const IdParams = Type.Object({ id: Type.String({ description: 'A job id (UUID)' }) })

export const jobSchemas = <B, Q>(body: B, query: Q) => ({
  create: {
    tags: ['jobs'],
    summary: 'Create a cache job from files and directories under jobs.root',
    security: SECURITY.apiKey,
    body,
    response: {
      201: Created,
      ...errors('bad_request', 'not_found', 'payload_too_large', 'unsupported_media_type', 'not_configured', 'queue_full', 'storage_unavailable', ...guarded),
    },
  },
  list: {
    tags: ['jobs'],
    summary: 'The newest jobs',
    security: SECURITY.apiKey,
    querystring: query,
    response: {
      200: Type.Object({ success: Type.Literal(true), jobs: Type.Array(ListEntry), total: Type.Integer() }),
      ...errors('bad_request', ...guarded),
    },
  },
  get: {
    tags: ['jobs'],
    summary: "A job's status and progress",
    security: SECURITY.apiKey,
    params: IdParams,
    response: {
      200: Type.Object({ success: Type.Literal(true), job: Job }),
      ...errors('bad_request', 'not_found', ...guarded),
    },
  },
  cancel: {
    tags: ['jobs'],
    summary: 'Cancel a pending or running job',
    security: SECURITY.apiKey,
    params: IdParams,
    response: {
      200: Type.Object({ success: Type.Literal(true), message: Type.String() }),
      ...errors('bad_request', 'not_found', 'conflict', ...guarded),
    },
  },
})
