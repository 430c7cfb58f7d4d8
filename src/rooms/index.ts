/**
 * The rooms capability (seeds 000 and 003): pools of nodes, seed 000's API and
 * monitor on the legacy exclusive pool, seed 003's API and cleaner on shared
 * pools, presence over /ws and HTTP. A config reload changes the pools and
 * their nodes (see pools.ts); which pool is the legacy one, and the timings,
 * need a restart.
 */
import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import { credentialGuard } from '../auth/credentials.js'
import type { AuthSecrets } from '../auth/tokens.js'
import type { FailureBudget } from '../auth/failures.js'
import type { Config } from '../config/schema.js'
import type { Engine } from '../engine/types.js'
import type { Logger } from '../log.js'
import type { Registry } from '../metrics/registry.js'
import type { Realtime } from '../realtime/index.js'
import { LeaderLoop } from '../loops/leader-loop.js'
import { cleanInterval, Cleaner } from './cleaner.js'
import { registerLegacyRoutes } from './legacy-routes.js'
import { LeaveTokens } from './leave-tokens.js'
import { GatewayMonitor } from './monitor.js'
import { NodeControl } from './node-control.js'
import { Presence } from './presence.js'
import { SharedPools } from './pools.js'
import { DrainingStore } from './draining-store.js'
import { RoomLock } from './room-lock.js'
import { registerServerRoutes } from './server-routes.js'
import { registerRoomEvents } from './ws-events.js'

export interface RoomsDeps {
  config: Config
  engine: Engine
  realtime: Realtime
  registry: Registry
  log: Logger
  /** The per-IP HTTP limit: room APIs create state, so they share the proxy's bucket. */
  ipRateLimit: onRequestHookHandler
  /** The client IPs' budget of wrong credentials. */
  failedAuth: FailureBudget
  /** auth.bearerTokens, as a reload leaves them. */
  secrets: AuthSecrets
}

export interface Rooms {
  presence: Presence
  /** The legacy pool's monitor loop (one leader per cluster). */
  monitor: LeaderLoop | undefined
  /** The idle-room cleaner loop (one leader per cluster). */
  cleaner: LeaderLoop
  /** A config reload: the pools, their nodes, and the legacy pool's node control. */
  reload(next: Config): void
  start(): void
  close(): Promise<void>
}

export function registerRooms(app: FastifyInstance, deps: RoomsDeps): Rooms {
  const { config, engine, registry } = deps
  const { rooms } = config
  const log = deps.log.child({ capability: 'rooms' })

  const pools = new SharedPools(rooms)
  const poolOf = (name: unknown) => pools.poolOf(name)
  const store = new DrainingStore(engine.rooms.shared, pools.draining)

  const placements = registry.counter('roomgate_room_placements_total', 'Room placement requests, by pool and outcome', [
    'pool',
    'outcome',
  ])
  const released = registry.counter('roomgate_rooms_released_total', 'Idle rooms that released their node', ['pool'])
  const polls = registry.counter('roomgate_rooms_monitor_polls_total', 'Progress polls of exclusive nodes', ['pool', 'outcome'])
  const presenceGauge = registry.gauge('roomgate_room_presence_entries', 'Presence entries held by this instance')

  const control = new NodeControl(config.httpTimeoutSeconds * 1000)
  const ttlMs = Math.round(rooms.presenceTtlSeconds * 1000)
  const presence = new Presence({ store, hub: deps.realtime.hub, holder: engine.instanceId, ttlMs, log })
  presenceGauge.onCollect(() => presenceGauge.set(presence.size))
  registerRoomEvents(deps.realtime.local, presence, poolOf)

  const bearer = credentialGuard('bearer', deps.secrets, deps.failedAuth)
  const limited = (auth: onRequestHookHandler | undefined) => (auth ? [deps.ipRateLimit, auth] : [deps.ipRateLimit])
  let monitor: LeaderLoop | undefined
  let reloadLegacy: ((next: Config) => void) | undefined
  const legacy = rooms.legacyPool === undefined ? undefined : rooms.pools[rooms.legacyPool]
  if (rooms.legacyPool !== undefined && legacy) {
    const name = rooms.legacyPool
    // One object the routes read on every call.
    const pool = { name, nodes: legacy.nodes, startUrl: legacy.startUrl, stopUrl: legacy.stopUrl }
    registerLegacyRoutes(app, {
      pool,
      store: engine.rooms.exclusive,
      control,
      // The node call's deadline, plus a margin for Redis and the mapping's writes.
      lock: new RoomLock(engine.leases, config.httpTimeoutSeconds * 1000 + 2_000),
      onRequest: limited(bearer),
      placements,
      log,
    })
    const gateways = new GatewayMonitor({
      pool: rooms.legacyPool,
      nodes: legacy.nodes,
      progressUrl: legacy.progressUrl!,
      downAfterPolls: legacy.downAfterPolls,
      store: engine.rooms.exclusive,
      control,
      polls,
      log,
    })
    monitor = new LeaderLoop({
      name: `rooms-monitor:${rooms.legacyPool}`,
      intervalMs: legacy.monitorIntervalMs,
      leases: engine.leases,
      log,
      run: (signal) => gateways.poll(signal),
      onLead: () => gateways.adopt(),
    })
    // The plan keeps the legacy pool in the pools (and its monitor interval as it is).
    reloadLegacy = (next) => {
      const p = next.rooms.pools[name]!
      Object.assign(pool, { nodes: p.nodes, startUrl: p.startUrl, stopUrl: p.stopUrl })
      gateways.reload({ nodes: p.nodes, progressUrl: p.progressUrl!, downAfterPolls: p.downAfterPolls })
    }
  }

  registerServerRoutes(app, {
    pools: pools.specs,
    poolOf,
    legacyPool: rooms.legacyPool,
    shared: store,
    exclusive: engine.rooms.exclusive,
    presenceTtlMs: ttlMs,
    onRequest: limited(rooms.serverApiAuth === 'bearer' ? bearer : undefined),
    bearer: rooms.serverApiAuth === 'bearer',
    bearerTokens: deps.secrets.bearerTokens,
    leaveTokens: new LeaveTokens(store),
    failedAuth: deps.failedAuth,
    placements,
  })

  const idleMs = rooms.idleTimeoutSeconds * 1000
  const idle = new Cleaner({ pools: pools.specs, idleMs, store, released, log })
  const cleaner = new LeaderLoop({
    name: 'rooms-cleaner',
    intervalMs: cleanInterval(idleMs),
    leases: engine.leases,
    log,
    run: (signal) => idle.run(signal),
    onLead: () => idle.recount(),
  })

  return {
    presence,
    monitor,
    cleaner,
    reload(next) {
      pools.reload(next.rooms)
      reloadLegacy?.(next)
    },
    start() {
      presence.start()
      monitor?.start()
      cleaner.start()
    },
    async close() {
      await Promise.all([monitor?.close(), cleaner.close()])
      await presence.close()
      await control.close()
    },
  }
}
