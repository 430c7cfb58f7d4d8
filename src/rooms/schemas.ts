/** Request and response schemas of the rooms APIs (seeds 000 and 003), for validation and OpenAPI. */
import Type from 'typebox'
import { errors, Nullable, SECURITY, Timestamp } from '../openapi/schemas.js'

const ROOM = { description: '1–128 letters, digits or -_.:@' }
const Room = Type.String(ROOM)

export const RoomQuery = Type.Object({ room: Room })
export const PoolQuery = Type.Object({
  pool: Type.Optional(Type.String({ minLength: 1, description: 'A shared pool; rooms.serverPool when absent' })),
})
export const RoomParams = Type.Object({ room: Room })
export const PresenceParams = Type.Object({ room: Room, user: Type.String({ description: '1–256 characters, no control characters' }) })
export const RoomServerBody = Type.Object(
  {
    room: Type.Union([Type.String(), Type.Number()], { description: 'A room id; a number is taken as its decimal string' }),
    pool: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
)

const Legacy = Type.Object({
  success: Type.Literal(true),
  room: Type.String(),
  gateway: Type.String({ description: 'The node (gateway IP) of the room' }),
  state: Type.Enum(['started', 'stopped']),
})
const Mapping = Type.Object({
  room: Type.String(),
  gateway: Type.String(),
  state: Type.Enum(['started', 'stopped']),
  recording_duration: Type.String({ description: 'As the gateway reported it; empty until the monitor polls' }),
  transcript_progress: Type.String(),
})

export const Assignment = Type.Object({
  room: Type.String(),
  pool: Type.String(),
  node: Type.String(),
  users: Type.Integer(),
  state: Type.String({ description: '`active` or `idle` (shared pools); `started` or `stopped` (the legacy pool)' }),
  lastUsedAt: Nullable(Timestamp),
  recording_duration: Type.Optional(Type.String()),
  transcript_progress: Type.Optional(Type.String()),
})

export type AssignmentView = Type.Static<typeof Assignment>

const limited = ['rate_limited', 'engine_unavailable'] as const
const legacyErrors = ['bad_request', 'unauthorized', ...limited] as const

export const START_SCHEMA = {
  tags: ['rooms'],
  security: SECURITY.bearer,
  summary: 'Give a room a free recording gateway (seed 000)',
  querystring: RoomQuery,
  response: { 200: Legacy, ...errors(...legacyErrors, 'room_stopped', 'conflict', 'no_gateway_available', 'node_call_failed') },
}
export const STOP_SCHEMA = {
  tags: ['rooms'],
  security: SECURITY.bearer,
  summary: "Stop a room's recording gateway; the mapping is kept as stopped",
  querystring: RoomQuery,
  response: { 200: Legacy, ...errors(...legacyErrors, 'room_not_found', 'room_stopped', 'conflict', 'node_call_failed') },
}
export const PROGRESS_SCHEMA = {
  tags: ['rooms'],
  security: SECURITY.bearer,
  summary: "A room's mapping and progress (the only call allowed on a stopped room)",
  querystring: RoomQuery,
  response: { 200: Type.Object({ success: Type.Literal(true), ...Mapping.properties }), ...errors(...legacyErrors, 'room_not_found') },
}
export const LEGACY_STATUS_SCHEMA = {
  tags: ['rooms'],
  security: SECURITY.bearer,
  summary: 'Every mapped room with its state and progress',
  response: { 200: Type.Object({ success: Type.Literal(true), rooms: Type.Array(Mapping) }), ...errors('unauthorized', ...limited) },
}

/** The server API's routes, with their security (rooms.serverApiAuth). */
export function serverSchemas(bearer: boolean) {
  const security = bearer ? SECURITY.bearer : SECURITY.none
  const auth = bearer ? (['unauthorized'] as const) : []
  return {
    roomServer: {
      tags: ['rooms'],
      summary: 'The media server of a room: sticky, least-loaded (seed 003)',
      security,
      body: RoomServerBody,
      response: { 200: Type.Object({ janus: Type.String() }), ...errors('bad_request', ...auth, ...limited) },
    },
    list: {
      tags: ['rooms'],
      summary: "Every room assignment, in every pool (the legacy pool's only with a bearer token)",
      security,
      response: { 200: Type.Object({ rooms: Type.Array(Assignment) }), ...errors('unauthorized', ...limited) },
    },
    get: {
      tags: ['rooms'],
      summary: "A room's assignment",
      security,
      params: RoomParams,
      querystring: PoolQuery,
      response: { 200: Assignment, ...errors('bad_request', 'unauthorized', 'room_not_found', 'conflict', ...limited) },
    },
    join: {
      tags: ['rooms'],
      summary: 'Place a user in a room (repeat within rooms.presenceTtlSeconds as a heartbeat)',
      security,
      params: PresenceParams,
      querystring: PoolQuery,
      response: {
        200: Type.Object({
          room: Type.String(),
          pool: Type.String(),
          node: Type.String(),
          user: Type.String(),
          expiresInSeconds: Type.Number(),
          leaveToken: Type.String({ description: 'Send it as X-Presence-Token to DELETE this presence (the open API needs it)' }),
        }),
        ...errors('bad_request', ...auth, ...limited),
      },
    },
    leave: {
      tags: ['rooms'],
      summary: "Take a user out of a room (open API: with the PUT's leaveToken, or a bearer token)",
      security,
      params: PresenceParams,
      querystring: PoolQuery,
      ...(bearer ? {} : { headers: Type.Object({ 'x-presence-token': Type.Optional(Type.String({ description: "The leaveToken of this presence's PUT" })) }) }),
      response: {
        200: Type.Object({ success: Type.Literal(true), room: Type.String(), pool: Type.String(), user: Type.String() }),
        ...errors('bad_request', 'unauthorized', ...limited),
      },
    },
  }
}
