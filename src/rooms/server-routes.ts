/**
 * Seed 003's API on shared pools: POST /v2/room_server {"room": 2171} →
 * {"janus": "gxy5"}; GET /rooms and GET /rooms/{room} (the assignments, as
 * seed 003's V1ListRooms shows them); and presence for HTTP clients:
 * PUT /v2/rooms/{room}/presence/{user} (repeat within presenceTtlSeconds as a
 * heartbeat) and DELETE to leave.
 *
 * With `rooms.serverApiAuth: none` the API is open, but two things are not:
 * the legacy pool's rooms (seed 000's gateways, state and progress, which its
 * own API gives only with a bearer token) are listed only to a caller with a
 * valid bearer token, and DELETE needs the PUT's leave token or a bearer token.
 */
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify'
import { verify } from '../auth/credentials.js'
import type { FailureBudget } from '../auth/failures.js'
import { bearerToken, safeEqual, type SecretSet } from '../auth/tokens.js'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { RoomgateError } from '../errors.js'
import type { Counter } from '../metrics/registry.js'
import { requireRoomId, userId } from './ids.js'
import type { LeaveTokens } from './leave-tokens.js'
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
  /** rooms.serverApiAuth is bearer: the onRequest hooks check it on every route. */
  bearer: boolean
  /** auth.bearerTokens: what shows the legacy pool, or ends any HTTP presence, on the open API. */
  bearerTokens: SecretSet
  leaveTokens: LeaveTokens
  failedAuth: FailureBudget
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

  /** Whether the caller showed a valid bearer token; a wrong one is a 401 (and spends from its failure budget). */
  const hasBearer = async (request: FastifyRequest): Promise<boolean> => {
    if (d.bearer) return true
    const token = bearerToken(request.headers.authorization)
    if (token === undefined) return false
    await verify(d.failedAuth, request.ip, () => d.bearerTokens.has(token), new RoomgateError('bearer_wrong'))
    return true
  }

  api.post('/v2/room_server', { ...opts, schema: schema.roomServer }, async (request) => {
    const room = requireRoomId(request.body.room)
    const pool = d.poolOf(request.body.pool)
    const { node, created } = await d.shared.place(pool, room)
    d.placements.child(pool.name, created ? 'created' : 'existing').inc()
    return { janus: node }
  })

  api.get('/rooms', { ...opts, schema: schema.list }, async (request) => {
    const rooms: AssignmentView[] = []
    for (const pool of d.pools.keys()) rooms.push(...(await d.shared.list(pool)).map(assignmentView))
    if (d.legacyPool && (await hasBearer(request))) {
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
      throw new RoomgateError('pool_unknown', { pool: JSON.stringify(wanted) })
    }
    const legacy = d.legacyPool !== undefined && (wanted === undefined || wanted === d.legacyPool) && (await hasBearer(request))
    if (wanted !== undefined && wanted === d.legacyPool && !legacy) throw new RoomgateError('pool_needs_bearer', { pool: wanted })
    const found: AssignmentView[] = []
    for (const pool of d.pools.keys()) {
      if (wanted !== undefined && wanted !== pool) continue
      const a = await d.shared.get(pool, room)
      if (a) found.push(assignmentView(a))
    }
    if (legacy) {
      const m = await d.exclusive.get(room)
      if (m) found.push(legacyAssignmentView(d.legacyPool!, m))
    }
    if (found.length === 0) throw new RoomgateError('room_unassigned', { room })
    if (found.length > 1) throw new RoomgateError('room_in_pools', { room })
    return found[0]
  })

  const presenceParams = (params: unknown) => {
    const p = params as { room: string; user: string }
    const user = userId(p.user)
    if (user === undefined) throw new RoomgateError('user_id_invalid', { field: 'user' })
    return { room: requireRoomId(p.room), user }
  }

  api.put('/v2/rooms/:room/presence/:user', { ...opts, schema: schema.join }, async (request) => {
    const { room, user } = presenceParams(request.params)
    const pool = d.poolOf(request.query.pool)
    const { node, created } = await d.shared.place(pool, room, { user, holder: HTTP_HOLDER, ttlMs: d.presenceTtlMs })
    if (created) d.placements.child(pool.name, 'created').inc()
    const leaveToken = await d.leaveTokens.sign(pool.name, room, user)
    return { room, pool: pool.name, node, user, expiresInSeconds: d.presenceTtlMs / 1000, leaveToken }
  })

  api.delete('/v2/rooms/:room/presence/:user', { ...opts, schema: schema.leave }, async (request) => {
    const { room, user } = presenceParams(request.params)
    const pool = d.poolOf(request.query.pool)
    if (!d.bearer) {
      const presented = request.headers['x-presence-token']
      const token = bearerToken(request.headers.authorization)
      const expected = await d.leaveTokens.sign(pool.name, room, user)
      // Both compared, whatever the first says: the time taken does not tell which one was checked.
      const leaveOk = typeof presented === 'string' && safeEqual(presented, expected)
      const bearerOk = d.bearerTokens.has(token)
      await verify(d.failedAuth, request.ip, () => leaveOk || bearerOk, new RoomgateError('presence_leave_refused'))
    }
    await d.shared.release({ pool: pool.name, room, user, holder: HTTP_HOLDER })
    return { success: true as const, room, pool: pool.name, user }
  })
}

