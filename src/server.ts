/**
 * Builds the Fastify app from the config: registers each capability the
 * config enables, in one place, and wires their shared pieces (engine,
 * upstream pools, metrics). Listening and shutdown live in roomgate.ts.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Config } from './config/schema.js'
import type { Engine } from './engine/types.js'
import { RoomgateError } from './errors.js'
import { frameworkError, installErrorHandling } from './http-errors.js'
import { FrontDoor, serverOptions } from './http/front-door.js'
import type { Logger } from './log.js'
import { Registry } from './metrics/registry.js'
import { createDeviceVerifier } from './auth/device-tokens.js'
import { registerClientRoute } from './client-route.js'
import { registerEventSchemas, registerOpenApi, registerSchemas } from './openapi/index.js'
import { registerHome } from './home.js'
import { registerAccessLog } from './http/access-log.js'
import { registerProbes } from './probes.js'
import { buildAdmin } from './admin.js'
import { registerProxy } from './proxy/index.js'
import { ProxyTable } from './proxy/routes.js'
import { ipRateLimit } from './ratelimit/http.js'
import { RateRules } from './ratelimit/rules.js'
import { registerRealtime, type Realtime } from './realtime/index.js'
import { registerRooms, type Rooms } from './rooms/index.js'
import { registerAssets } from './assets/index.js'
import { Lucid, registerFeed, type Feed } from './feed/index.js'
import { registerJobs, type Jobs } from './jobs/index.js'
import { registerStatus, type Status } from './status/index.js'
import { registerDashboard } from './dashboard/index.js'
import { FailureLog } from './upstream/failure-log.js'
import { FailureBudget } from './auth/failures.js'
import { Upstreams } from './upstream/pools.js'
import { AuthSecrets } from './auth/tokens.js'
import { VERSION } from './version.js'
import { Reloader, registerReloadRoute, type ReloadResult } from './reload.js'
import { credentialGuard } from './auth/credentials.js'

export interface ServerOptions {
  /** Where secrets named by the config (`*Env`) are read; `process.env` by default. */
  env?: NodeJS.ProcessEnv
  /** Reads the config again for a reload (SIGHUP, POST /admin/reload); without it a reload is refused. */
  load?: () => Readonly<Config>
}

export interface Server {
  app: FastifyInstance
  /** The admin listener's app, when `admin.port` is set (listened on by roomgate.ts). */
  admin: FastifyInstance | undefined
  realtime: Realtime
  rooms: Rooms
  jobs: Jobs
  feed: Feed
  status: Status
  upstreams: Upstreams
  registry: Registry
  frontDoor: FrontDoor
  /** The config running now (a reload changes its live keys). */
  readonly config: Readonly<Config>
  /** Reads the config again and applies what can change live; see reload.ts. */
  reload(): Promise<ReloadResult>
  /** Marks the instance as draining: readiness fails and new requests get 503. */
  beginClose(): void
  /** Starts background loops; call after listen. */
  start(): Promise<void>
}

export async function buildServer(config: Readonly<Config>, engine: Engine, log: Logger, options: ServerOptions = {}): Promise<Server> {
  const env = options.env ?? process.env
  let closing = false
  const isClosing = () => closing
  const proxyTable = new ProxyTable()

  const app = Fastify({
    ...serverOptions(config.http),
    loggerInstance: log as FastifyBaseLogger,
    // Per-request lines would cost more than the proxying at load; failures are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger (with its redaction set-up) per request: on the proxy's
    // hot path it cost more than the auth check. Handlers log with the fields they need.
    childLoggerFactory: (logger) => logger,
    // Only the listed proxies are believed; `true` (believe anyone) is not offered.
    trustProxy: config.trustProxy.length > 0 ? [...config.trustProxy] : false,
    // Our own 503 below keeps the error format; Fastify's would not.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // Strict bodies: a wrong type or an unknown field is a 400, never silently fixed or dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    frameworkErrors: frameworkError,
    routerOptions: { constraints: { proxied: proxyTable.constraint() } },
  })
  installErrorHandling(app)
  // First, so its checks run before any route's and it sees every route as it is added.
  const frontDoor = new FrontDoor({ http: config.http, log })
  frontDoor.install(app)
  registerSchemas(app)
  if (config.log.access) registerAccessLog(app, log)
  if (config.docs.enabled) await registerOpenApi(app, VERSION)
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) return done()
    void reply.header('connection', 'close')
    done(new RoomgateError('shutting_down'))
  })

  const registry = new Registry()
  const upstreamLatency = registry.histogram(
    'roomgate_upstream_latency_seconds',
    'Time to an upstream answer (proxy: to the end of the body; event: to the reply)',
    ['service', 'kind'],
  )
  const rateLimited = registry.counter('roomgate_rate_limited_total', 'Requests and messages refused by a rate limit', [
    'scope',
  ])
  const proxyRequests = registry.counter('roomgate_http_proxy_requests_total', 'Proxied HTTP requests by status', [
    'service',
    'status',
  ])
  const failures = new FailureLog(log)
  const secrets = new AuthSecrets(config.auth)
  const failedAuth = new FailureBudget({ store: engine.rateLimits, ...config.auth.failedAttempts, rejected: rateLimited.child('auth'), log })
  const upstreams = new Upstreams(config.services, config.httpTimeoutSeconds * 1000)

  // Its apply (below) reaches capabilities built further down: a reload comes only once they are.
  const reloader = new Reloader({ config, load: options.load, apply, log, registry })
  const reload = () => (closing ? Promise.reject(new RoomgateError('shutting_down')) : reloader.reload())
  const probes = { engine, registry, isClosing, config: () => reloader.info }
  registerProbes(app, { ...probes, metrics: config.admin.port === undefined })
  registerHome(app, { metrics: config.admin.port === undefined })
  const admin = config.admin.port === undefined ? undefined : buildAdmin(probes, log)
  // Where /metrics is: on the admin listener when there is one.
  registerReloadRoute(admin ?? app, reload, credentialGuard('bearer', secrets, failedAuth)!)

  // One per-IP bucket for everything a client asks over HTTP: proxied calls and WebSocket upgrades.
  const rateRules = new RateRules(config.rateLimit)
  const ipLimit = ipRateLimit({
    limiter: 'http',
    rule: rateRules.perIp,
    store: engine.rateLimits,
    rejected: rateLimited.child('http'),
    log,
  })

  const devices = createDeviceVerifier(config.auth.devices, { env, log: log.child({ capability: 'device-tokens' }), registry })
  const realtime = await registerRealtime(app, {
    config,
    engine,
    upstreams,
    registry,
    upstreamLatency,
    rateLimited,
    failures,
    log,
    ipRateLimit: ipLimit,
    rateRules,
    failedAuth,
    devices,
    secrets,
  })

  const rooms = registerRooms(app, { config, engine, realtime, registry, log, ipRateLimit: ipLimit, failedAuth, secrets })
  if (config.assets.dir !== undefined) await registerAssets(app, config.assets.dir)

  const lucid = new Lucid(config.jobs.backendWsUrl, log.child({ capability: 'backend-stats' }))
  const jobs = registerJobs(app, {
    config,
    engine,
    realtime,
    registry,
    log,
    // The same bucket, refused in seed 002's words.
    ipRateLimit: ipRateLimit({
      limiter: 'http',
      rule: rateRules.perIp,
      store: engine.rateLimits,
      rejected: rateLimited.child('http'),
      log,
      refusal: 'jobs_rate_limited',
    }),
    failedAuth,
    secrets,
    rateLimited,
    backend: () => lucid.backend(),
  })
  const feed = registerFeed(app, { config, engine, realtime, registry, log, lucid, workerRate: jobs.workerRate, storage: jobs.storage, env })
  const status = registerStatus(app, { config, engine, registry, log, ipRateLimit: ipLimit, rateLimited, env })
  const dashboard = registerDashboard(app, { config: () => reloader.config, engine, realtime, health: { all: () => feed.health.all() }, status, rateLimited, failedAuth, secrets, log })

  const proxy = await registerProxy(app, {
    devices,
    config,
    upstreams,
    requests: proxyRequests,
    upstreamLatency,
    failures,
    rateLimit: ipLimit,
    frontDoor,
    failedAuth,
    secrets,
    table: proxyTable,
  })

  registerClientRoute(app)

  // Every capability has registered its /ws events: document their payloads.
  registerEventSchemas(app, realtime.local)

  /** The live keys of a planned reload, to the capabilities that hold them. */
  async function apply(next: Readonly<Config>, changed: readonly string[]): Promise<void> {
    // The one step that can fail (a key file gone since the load): first, so a failure changes nothing.
    await devices.reload(next.auth.devices)
    secrets.reload(next.auth)
    rateRules.reload(next.rateLimit)
    upstreams.reload(next.services)
    proxy.reload(next.proxy.routes)
    realtime.reload(next)
    rooms.reload(next)
    status.reload(next)
    // It starts every check again: only when they changed.
    if (changed.includes('health')) await feed.reload(next)
  }

  // After the server has stopped and drained: loops, then pools. The loops are
  // independent, and each may wait on a stalled Redis, so they stop together.
  app.addHook('onClose', async () => {
    await Promise.all([dashboard.close(), status.close(), jobs.close(), feed.close(), rooms.close(), realtime.close()])
    devices.close()
    await upstreams.close()
  })

  return {
    app,
    admin,
    realtime,
    rooms,
    jobs,
    feed,
    status,
    upstreams,
    registry,
    frontDoor,
    get config() {
      return reloader.config
    },
    reload,
    beginClose: () => {
      closing = true
    },
    start: async () => {
      await devices.start()
      await realtime.start()
      rooms.start()
      await jobs.start()
      feed.start()
      status.start()
      await dashboard.start()
    },
  }
}
