/**
 * Seed 003's API on shared pools: POST /v2/room_server {"room": 2171} →
 * {"janus": "gxy5"}; GET /rooms and GET /rooms/{room} (the assignments, as
 * seed 003's V1ListRooms shows them); and presence for HTTP clients:
 * PUT /v2/rooms/{room}/presence/{user} (repeat within presenceTtlSeconds as a
 * heartbeat) and DELETE to leave.
 */
import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { RoomgateError } from '../errors.js'
import type { Counter } from '../metrics/registry.js'
import { requireRoomId, userId } from './ids.js'
import { serverSchemas, type AssignmentView } from './schemas.js'
import type { Assignment, ExclusiveStore, Mapping, SharedPoolSpec, SharedStore } from './types.js'

/** The holder of presence entries kept by HTTP heartbeats (any instance may refresh them). */
export const HTTP_HOLDER = 'http'

export interface ServerDeps {
  pools: ReadonlyMap<string, SharedPoolSpec>
  /** The shared pool a request names, or the server pool; 400 for anything else. */
  poolOf: (name: unknown) => SharedPoolSpec
  legacyPool?: string
  shared: SharedStore
  exclusive: ExclusiveStore
  presenceTtlMs: number
  /** Rate limit, and the Bearer check when rooms.serverApiAuth is bearer. */
  onRequest: onRequestHookHandler[]
  /** rooms.serverApiAuth is bearer (for the OpenAPI document). */
  bearer: boolean
  placements: Counter
}

/** A legacy (exclusive) mapping in the shape of the rooms listing. */
export function legacyAssignmentView(pool: string, m: Mapping) {
  return {
    room: m.room,
    pool,
    node: m.node,
    users: 0,
    state: m.state,
    lastUsedAt: null,
    recording_duration: m.duration,
    transcript_progress: m.progress,
  }
}

export function assignmentView(a: Assignment) {
  return {
    room: a.room,
    pool: a.pool,
    node: a.node,
    users: a.users,
    state: a.users > 0 ? 'active' : 'idle',
    lastUsedAt: new Date(a.lastUsedAt).toISOString(),
  }
}

export function registerServerRoutes(app: FastifyInstance, d: ServerDeps): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>()
  const opts = { onRequest: d.onRequest }
  const schema = serverSchemas(d.bearer)

  api.post('/v2/room_server', { ...opts, schema: schema.roomServer }, async (request) => {
    const room = requireRoomId(request.body.room)
    const pool = d.poolOf(request.body.pool)
    const { node, created } = await d.shared.place(pool, room)
    d.placements.child(pool.name, created ? 'created' : 'existing').inc()
    return { janus: node }
  })

  api.get('/rooms', { ...opts, schema: schema.list }, async () => {
    const rooms: AssignmentView[] = []
    for (const pool of d.pools.keys()) rooms.push(...(await d.shared.list(pool)).map(assignmentView))
    if (d.legacyPool) {
      for (const m of await d.exclusive.list(d.legacyPool)) {
        rooms.push(legacyAssignmentView(d.legacyPool, m))
      }
    }
    return { rooms }
  })

  api.get('/rooms/:room', { ...opts, schema: schema.get }, async (request) => {
    const room = requireRoomId((request.params as { room: string }).room)
    const wanted = request.query.pool
    if (wanted !== undefined && !d.pools.has(wanted) && wanted !== d.legacyPool) {
      throw new RoomgateError('bad_request', `${JSON.stringify(wanted)} is not a pool`)
    }
    const found: AssignmentView[] = []
    for (const pool of d.pools.keys()) {
      if (wanted !== undefined && wanted !== pool) continue
      const a = await d.shared.get(pool, room)
      if (a) found.push(assignmentView(a))
    }
    if (d.legacyPool && (wanted === undefined || wanted === d.legacyPool)) {
      const m = await d.exclusive.get(room)
      if (m) found.push(legacyAssignmentView(d.legacyPool, m))
    }
    if (found.length === 0) throw new RoomgateError('room_not_found', `Room '${room}' has no assignment`)
    if (found.length > 1) throw new RoomgateError('conflict', `Room '${room}' is assigned in several pools; add ?pool=`)
    return found[0]
  })

  const presenceParams = (params: unknown) => {
    const p = params as { room: string; user: string }
    const user = userId(p.user)
    if (user === undefined) throw new RoomgateError('bad_request', "'user' must be 1 to 256 characters without control characters")
    return { room: requireRoomId(p.room), user }
  }

  api.put('/v2/rooms/:room/presence/:user', { ...opts, schema: schema.join }, async (request) => {
    const { room, user } = presenceParams(request.params)
    const pool = d.poolOf(request.query.pool)
    const { node, created } = await d.shared.place(pool, room, { user, holder: HTTP_HOLDER, ttlMs: d.presenceTtlMs })
    if (created) d.placements.child(pool.name, 'created').inc()
    return { room, pool: pool.name, node, user, expiresInSeconds: d.presenceTtlMs / 1000 }
  })

  api.delete('/v2/rooms/:room/presence/:user', { ...opts, schema: schema.leave }, async (request) => {
    const { room, user } = presenceParams(request.params)
    const pool = d.poolOf(request.query.pool)
    await d.shared.release({ pool: pool.name, room, user, holder: HTTP_HOLDER })
    return { success: true as const, room, pool: pool.name, user }
  })
}
