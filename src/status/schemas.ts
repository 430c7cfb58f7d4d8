/** Schemas of seed 004's public status API (OpenAPI). */
import Type from 'typebox'
import { errors } from '../openapi/schemas.js'

const SlugParams = Type.Object({ slug: Type.String({ description: 'A source of status.sources' }) })
const Statuses = Type.Record(Type.String(), Type.Unknown(), { description: 'Unit id → its mapped status' })
const Stale = Type.Optional(Type.Literal(true, { description: 'The client API failed: the last known statuses' }))

export const STATUS_SCHEMA = {
  tags: ['status'],
  summary: "A project's current unit statuses",
  params: SlugParams,
  response: {
    200: Type.Object({ project: Type.String(), statuses: Statuses, count: Type.Integer(), stale: Stale }),
    ...errors('not_found', 'rate_limited', 'engine_unavailable'),
  },
}

export const STREAM_SCHEMA = {
  tags: ['status'],
  summary: 'Server-sent events: `connected`, then `status_update` on every change, `ping` keep-alives',
  params: SlugParams,
  response: {
    200: {
      description: 'An endless text/event-stream (`event: status_update`, `data: {"statuses": {...}}`)',
      content: { 'text/event-stream': { schema: { type: 'string' } } },
    },
    ...errors('not_found', 'rate_limited', 'server_busy', 'engine_unavailable'),
  },
}

export const STREAM_HEAD_SCHEMA = {
  tags: ['status'],
  summary: "The stream's headers, without a stream (for load balancer checks)",
  params: SlugParams,
  response: { 200: { description: 'The SSE headers' }, ...errors('not_found', 'rate_limited') },
}

export const REFRESH_SCHEMA = {
  tags: ['status'],
  summary: 'Read the client API now and push the result to every subscriber (rate limited per project)',
  params: SlugParams,
  response: {
    200: Type.Object({ project: Type.String(), statuses: Statuses, refreshed: Type.Boolean(), stale: Stale }),
    ...errors('not_found', 'rate_limited', 'engine_unavailable'),
  },
}
