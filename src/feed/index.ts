/**
 * Seed 002's health and metrics: the health checks (S3 HeadBucket and HTTP),
 * the backend's LucidLink throughput (BACKEND_WS_URL) or, without a backend,
 * the cache workers' own read rate, `GET /api/v1/health`, `/api/v1/metrics`,
 * `/api/v1/metrics/s3`, and the metrics feed on /ws. A config reload that
 * changes the health section replaces the monitor: the checks start again.
 */
import { HEALTH_SCHEMA, METRICS_SCHEMA, S3_SCHEMA } from './schemas.js'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Config } from '../config/schema.js'
import type { Engine } from '../engine/types.js'
import { HealthMonitor } from '../health/monitor.js'
import type { CheckSnapshot } from '../health/types.js'
import type { Logger } from '../log.js'
import type { Registry } from '../metrics/registry.js'
import type { Realtime } from '../realtime/index.js'
import { FRESH_MS } from '../jobs/view.js'
import type { StorageView } from '../jobs/index.js'
import { BackendStats } from './backend-stats.js'
import { MetricsFeed } from './metrics-feed.js'

const MB = 1024 * 1024
/** How often the feed looks for a new throughput figure to push. */
const LUCID_PUSH_MS = 1_000

export interface Rate {
  bps: number
  at: number
}

/** The backend's throughput figures, kept as bytes per second. */
export class Lucid {
  private last: Rate | null = null
  private stats: BackendStats | undefined

  constructor(url: string | undefined, log: Logger) {
    if (url === undefined) return
    this.stats = new BackendStats({
      url,
      log,
      // Freshness is judged by arrival: the backend's clock may be off.
      onStats: (s) => {
        this.last = { bps: s.throughputMbps * MB, at: Date.now() }
      },
    })
  }

  /** The backend's latest figure, if it is fresh. */
  backend(): Rate | null {
    return this.last && Date.now() - this.last.at < FRESH_MS ? this.last : null
  }

  start(): void {
    this.stats?.start()
  }

  async close(): Promise<void> {
    await this.stats?.close()
  }
}

export interface FeedDeps {
  config: Config
  engine: Engine
  realtime: Realtime
  registry: Registry
  log: Logger
  lucid: Lucid
  /** The cluster's cache workers' read rate, when fresh. */
  workerRate: () => Rate | null
  /** jobs.root on this instance. */
  storage: () => StorageView
  env: NodeJS.ProcessEnv
}

export interface Feed {
  /** The monitor running now (a reload replaces it). */
  readonly health: HealthMonitor
  feed: MetricsFeed
  /** A config reload of the health section: a new monitor starts, then the old one stops. */
  reload(next: Config): Promise<void>
  start(): void
  close(): Promise<void>
}

/** The seed's `s3Health` object (`latencyHistory` only where the seed shows it). */
function s3View(s: CheckSnapshot | undefined, withHistory: boolean) {
  if (!s) return null
  const { latency, averageLatency, isHealthy, lastCheck, checkCount, latencyHistory, region, error } = s
  return { latency, averageLatency, isHealthy, lastCheck, checkCount, ...(withHistory ? { latencyHistory } : {}), region, error }
}

/** Prometheus asks with text/plain or OpenMetrics; the seed's JSON clients with application/json or nothing. */
function wantsPrometheus(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? ''
  return /openmetrics|text\/plain/i.test(accept) && !/application\/json/i.test(accept)
}

export function registerFeed(app: FastifyInstance, deps: FeedDeps): Feed {
  const { engine, lucid } = deps
  const log = deps.log.child({ capability: 'health' })

  const lucidLink = () => {
    const r = lucid.backend() ?? deps.workerRate()
    return {
      throughputMbps: r ? Math.round((r.bps / MB) * 10) / 10 : 0,
      timestamp: r ? new Date(r.at).toISOString() : null,
      source: lucid.backend() ? 'backend' : r ? 'workers' : 'none',
    }
  }

  const metricsFeed: MetricsFeed = new MetricsFeed(deps.realtime.hub, deps.realtime.local, () => ({
    lucidLink: lucidLink(),
    s3Health: s3View(health.s3(), false),
  }))
  const monitor = (config: Config['health']): HealthMonitor =>
    new HealthMonitor({
      config,
      env: deps.env,
      log,
      registry: deps.registry,
      onUpdate: (s) => {
        if (s.name === health.s3()?.name) metricsFeed.push({ type: 's3-health', s3Health: s3View(s, false) })
        else metricsFeed.push({ type: 'health-check', check: s })
      },
    })
  let health = monitor(deps.config.health)
  let started = false

  let lastPushed = ''
  const lucidTimer = setInterval(() => {
    const now = lucidLink()
    const key = `${now.throughputMbps}|${now.source}`
    if (key === lastPushed) return
    lastPushed = key
    metricsFeed.push({ type: 'lucidlink-stats', lucidLink: now })
  }, LUCID_PUSH_MS)
  lucidTimer.unref()

  app.get('/api/v1/health', { schema: HEALTH_SCHEMA }, async (_request, reply) => {
    const connected = engine.state() === 'ready'
    if (!connected) void reply.code(503)
    const storage = deps.storage()
    return {
      success: connected,
      status: !connected ? 'unhealthy' : storage.storage === 'unreadable' ? 'degraded' : 'healthy',
      service: 'api-gateway',
      database: connected ? 'connected' : 'disconnected',
      engine: engine.kind,
      ...storage,
      timestamp: new Date().toISOString(),
    }
  })

  app.get('/api/v1/metrics', { schema: METRICS_SCHEMA }, async (request, reply) => {
    if (wantsPrometheus(request)) {
      void reply.type('text/plain; version=0.0.4; charset=utf-8')
      return deps.registry.exposition()
    }
    return {
      success: true,
      metrics: {
        lucidLink: lucidLink(),
        s3Health: s3View(health.s3(), false),
        checks: Object.fromEntries(health.all().map((c) => [c.name, c])),
        websocket: { connections: deps.realtime.hub.size, devices: deps.realtime.hub.deviceCount, feedWatchers: metricsFeed.size },
      },
      timestamp: new Date().toISOString(),
    }
  })

  app.get('/api/v1/metrics/s3', { schema: S3_SCHEMA }, async () => ({
    success: true,
    s3Health: s3View(health.s3(), true),
    ...(health.s3() ? {} : { message: 'No S3 health check is configured (set S3_HEALTH_BUCKET)' }),
    timestamp: new Date().toISOString(),
  }))

  return {
    get health() {
      return health
    },
    feed: metricsFeed,
    async reload(next) {
      const previous = health
      health = monitor(next.health)
      if (started) health.start()
      await previous.close()
      previous.forgetAllBut(health)
    },
    start() {
      started = true
      health.start()
      lucid.start()
    },
    async close() {
      clearInterval(lucidTimer)
      await health.close()
      await lucid.close()
    },
  }
}
