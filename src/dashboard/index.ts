/**
 * The operator dashboard: `GET /dashboard` (a static page) fed live over /ws.
 * A connection subscribes with a bearer token or API key
 * (`dashboard.subscribe`, see watchers.ts) and then gets one
 * `{"type":"dashboard", …}` snapshot at once and one every second: pools,
 * nodes and rooms; devices per instance; jobs; health checks with their
 * latency over time; status sources; rate-limit rejections.
 *
 * One timer serves every watcher: each tick publishes this instance's report
 * to the others and samples the health checks (both cheap, and needed even
 * when nobody watches, so a page opened later has history and every
 * instance's figures), then, only if someone watches here, builds one
 * snapshot, serialises it once and sends that frame to all of them. A tick
 * that finds the previous build still running (a slow Redis) is skipped.
 */
import type { FastifyInstance } from 'fastify'
import type { FailureBudget } from '../auth/failures.js'
import type { AuthSecrets } from '../auth/tokens.js'
import type { Config } from '../config/schema.js'
import type { Engine } from '../engine/types.js'
import type { CheckSnapshot } from '../health/types.js'
import type { Logger } from '../log.js'
import type { Counter } from '../metrics/registry.js'
import type { Client } from '../realtime/client.js'
import type { Realtime } from '../realtime/index.js'
import type { Status } from '../status/index.js'
import { HealthHistory } from './health-history.js'
import { Instances } from './instances.js'
import { registerDashboardPage } from './page.js'
import { paced } from './paced.js'
import { roomsView } from './rooms-view.js'
import { buildSnapshot, type SnapshotSources } from './snapshot.js'
import { Watchers } from './watchers.js'

/** How often watchers get a snapshot, and instances publish their report. */
export const DASHBOARD_INTERVAL_MS = 1_000

export interface DashboardDeps {
  /** The config running now: a reload changes the pools and the status sources. */
  config: () => Readonly<Config>
  engine: Engine
  realtime: Realtime
  /** The checks of the health monitor running now. */
  health: { all(): CheckSnapshot[] }
  status: Status
  /** `roomgate_rate_limited_total`, by scope. */
  rateLimited: Counter
  /** The client IPs' budget of wrong credentials. */
  failedAuth: FailureBudget
  /** The credentials that let a connection watch: auth.bearerTokens and auth.apiKeys. */
  secrets: AuthSecrets
  log: Logger
}

export interface Dashboard {
  /** Watchers on this instance. */
  readonly watchers: number
  start(): Promise<void>
  close(): Promise<void>
}

export function registerDashboard(app: FastifyInstance, deps: DashboardDeps): Dashboard {
  const { config, engine, realtime } = deps
  const log = deps.log.child({ capability: 'dashboard' })
  registerDashboardPage(app, log)

  const history = new HealthHistory()
  const instances = new Instances(
    engine.bus,
    engine.instanceId,
    () => ({
      instance: engine.instanceId,
      devices: realtime.hub.deviceCount,
      connections: realtime.hub.size,
      watchers: watchers.size,
      statusSubscribers: deps.status.subscribers(),
      rateLimited: Object.fromEntries(deps.rateLimited.series().map((s) => [s.labels[0] ?? '', s.value])),
      at: Date.now(),
    }),
    log,
  )
  const sources: SnapshotSources = {
    engine,
    rooms: paced(() => roomsView({ config: config().rooms, exclusive: engine.rooms.exclusive, shared: engine.rooms.shared }), DASHBOARD_INTERVAL_MS - 100),
    health: deps.health,
    history,
    status: {
      sources: () => config().status.sources,
      cache: engine.statusCache,
      failure: (slug) => deps.status.service.failure(slug),
    },
    instances,
  }

  /** The latest frame and when it was built; the build in progress, if any. */
  let latest: { frame: string; at: number } | undefined
  let building: Promise<string> | undefined
  let closed = false

  const build = (): Promise<string> =>
    (building ??= buildSnapshot(sources)
      .then((snapshot) => {
        const frame = JSON.stringify(snapshot)
        latest = { frame, at: snapshot.at }
        return frame
      })
      .finally(() => (building = undefined)))

  const sendFirst = (client: Client) => {
    if (latest && Date.now() - latest.at < DASHBOARD_INTERVAL_MS) {
      client.send(latest.frame)
      return
    }
    build().then(
      (frame) => {
        // It may have left, or been refused, while the snapshot was built.
        if (watchers.has(client)) client.send(frame)
      },
      (err: unknown) => log.error({ err }, 'dashboard snapshot failed'),
    )
  }

  const watchers = new Watchers({
    hub: realtime.hub,
    local: realtime.local,
    bearerTokens: deps.secrets.bearerTokens,
    apiKeys: deps.secrets.apiKeys,
    failedAuth: deps.failedAuth,
    subscribed: sendFirst,
  })

  const tick = () => {
    if (closed) return
    instances.publish()
    history.sample(deps.health.all())
    if (watchers.size === 0 || building) return
    build().then(
      (frame) => {
        if (!closed) watchers.send(frame)
      },
      (err: unknown) => log.error({ err }, 'dashboard snapshot failed'),
    )
  }

  let timer: NodeJS.Timeout | undefined
  return {
    get watchers() {
      return watchers.size
    },
    async start() {
      if (closed || timer) return
      await instances.start()
      if (closed) return
      timer = setInterval(tick, DASHBOARD_INTERVAL_MS)
      timer.unref()
      tick()
    },
    async close() {
      closed = true
      clearInterval(timer)
      instances.close()
      // A build in flight ends on its own (bounded by the engine's timeouts); nobody gets its frame.
      await building?.catch(() => undefined)
    },
  }
}
