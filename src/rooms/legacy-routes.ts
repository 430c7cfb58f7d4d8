/**
 * Seed 000's API on the legacy (exclusive) pool, behind Bearer tokens:
 * POST /start?room=, POST /stop?room=, GET /progress?room=, GET /status.
 * A start call the node refuses undoes the mapping; a stop call is made
 * before the mapping changes. Either way the mapping never claims what the
 * node did not do.
 */
import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import { RoomgateError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Counter } from '../metrics/registry.js'
import { requireRoomId } from './ids.js'
import { fillTemplate, type NodeControl } from './node-control.js'
import type { RoomLock } from './room-lock.js'
import { LEGACY_STATUS_SCHEMA, PROGRESS_SCHEMA, START_SCHEMA, STOP_SCHEMA } from './schemas.js'
import type { ExclusiveStore, Mapping } from './types.js'

export interface LegacyPool {
  name: string
  nodes: readonly string[]
  startUrl?: string
  stopUrl?: string
}

export interface LegacyDeps {
  pool: LegacyPool
  store: ExclusiveStore
  control: NodeControl
  /** One start or stop per room at a time, cluster-wide. */
  lock: RoomLock
  /** Rate limit and Bearer check. */
  onRequest: onRequestHookHandler[]
  placements: Counter
  log: Logger
}

/** A mapping as seed 000's clients see it. */
export function mappingView(m: Mapping) {
  return {
    room: m.room,
    gateway: m.node,
    state: m.state,
    recording_duration: m.duration,
    transcript_progress: m.progress,
  }
}

const roomOf = (query: unknown) => requireRoomId((query as { room?: unknown }).room)

export function registerLegacyRoutes(app: FastifyInstance, d: LegacyDeps): void {
  const { pool, store } = d
  const opts = { onRequest: d.onRequest }

  app.post('/start', { ...opts, schema: START_SCHEMA }, async (request) => {
    const room = roomOf(request.query)
    return d.lock.run(room, () => start(room))
  })

  const start = async (room: string) => {
    const result = await store.start(pool.name, room, pool.nodes)
    if (result.status === 'full') {
      d.placements.child(pool.name, 'no_node').inc()
      throw new RoomgateError('no_gateway_for_room', { room, nodes: pool.nodes.length })
    }
    if (result.status === 'stopped') throw stopped(room)
    d.placements.child(pool.name, result.status).inc()
    if (result.status === 'created' && pool.startUrl) {
      try {
        await d.control.notify(fillTemplate(pool.startUrl, result.node, room))
      } catch (err) {
        await store.removeIf(pool.name, room, result.node, 'started')
        d.log.warn({ room, node: result.node, err: (err as Error).message }, 'gateway start call failed; mapping undone')
        throw new RoomgateError('gateway_start_failed', { node: result.node, room })
      }
    }
    return { success: true, room, gateway: result.node, state: 'started' }
  }

  // The node is told first and the mapping changed after: a room marked stopped
  // is one its gateway really stopped, so the monitor may free it.
  app.post('/stop', { ...opts, schema: STOP_SCHEMA }, async (request) => {
    const room = roomOf(request.query)
    return d.lock.run(room, () => stop(room))
  })

  const stop = async (room: string) => {
    const current = await store.get(room)
    if (!current) throw notFound(room)
    if (current.state === 'stopped') throw stopped(room)
    if (pool.stopUrl) {
      try {
        await d.control.notify(fillTemplate(pool.stopUrl, current.node, room))
      } catch (err) {
        d.log.warn({ room, node: current.node, err: (err as Error).message }, 'gateway stop call failed; room left started')
        throw new RoomgateError('gateway_stop_failed', { node: current.node, room })
      }
    }
    const result = await store.stop(room)
    if (result.status === 'missing') throw notFound(room)
    if (result.status === 'already-stopped') throw stopped(room)
    return { success: true, room, gateway: result.mapping.node, state: 'stopped' }
  }

  app.get('/progress', { ...opts, schema: PROGRESS_SCHEMA }, async (request) => {
    const room = roomOf(request.query)
    const m = await store.get(room)
    if (!m) throw notFound(room)
    return { success: true, ...mappingView(m) }
  })

  app.get('/status', { ...opts, schema: LEGACY_STATUS_SCHEMA }, async () => {
    const list = await store.list(pool.name)
    list.sort((a, b) => a.room.localeCompare(b.room))
    return { success: true, rooms: list.map(mappingView) }
  })
}

const notFound = (room: string) => new RoomgateError('room_unmapped', { room })
const stopped = (room: string) => new RoomgateError('room_is_stopped', { room })
