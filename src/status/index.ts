/**
 * The status proxy (seed 004): public statuses of each configured project,
 * read from the client's API with its credentials, cached, and streamed to
 * SSE subscribers on every instance, with one poller per project for the
 * whole cluster while anyone watches. A config reload changes the sources:
 * a changed one is read with its new settings from its next read, and the
 * streams of one removed or made inactive end (a reconnect gets its 404).
 */
import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import type { Config } from '../config/schema.js'
import type { StatusSourceConfig } from '../config/status-schema.js'
import type { Engine } from '../engine/types.js'
import { RoomgateError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Counter, Registry } from '../metrics/registry.js'
import { ipRateLimit } from '../ratelimit/http.js'
import { StatusChannel } from './channel.js'
import { registerStatusRoutes } from './routes.js'
import { StatusService } from './service.js'
import { sseFrame } from './sse.js'

export interface StatusDeps {
  config: Config
  engine: Engine
  registry: Registry
  log: Logger
  ipRateLimit: onRequestHookHandler
  rateLimited: Counter
  env: NodeJS.ProcessEnv
}

export interface Status {
  service: StatusService
  /** A config reload: status.sources. */
  reload(next: Config): void
  /** Subscribers on this instance, per slug. */
  subscribers(): Record<string, number>
  start(): void
  close(): Promise<void>
}

export function registerStatus(app: FastifyInstance, deps: StatusDeps): Status {
  const { config, engine, registry } = deps
  const { status } = config
  const log = deps.log.child({ capability: 'status' })
  const sources = new Map<string, StatusSourceConfig>(status.sources.map((s) => [s.slug, s]))

  const fetches = registry.counter('roomgate_status_fetches_total', 'Reads of client status APIs, by slug and result', ['slug', 'result'])
  const events = registry.counter('roomgate_status_events_total', 'SSE events received for local subscribers, by slug and event', ['slug', 'event'])
  const gauge = registry.gauge('roomgate_status_subscribers', 'SSE subscribers on this instance').child()
  const slow = registry.counter('roomgate_status_slow_readers_total', 'SSE subscribers cut off for not reading').child()

  const service = new StatusService(engine, sources, deps.env, log, fetches)
  const channels = new Map<string, StatusChannel>()
  const channel = (slug: string): StatusChannel => {
    let c = channels.get(slug)
    if (!c) {
      // A stream checked its slug before it waited for the cache: a reload may have removed it since.
      if (!service.source(slug)) throw new RoomgateError('project_not_found')
      c = new StatusChannel(slug, engine, service, log, (event) => events.child(slug, event).inc())
      channels.set(slug, c)
    }
    return c
  }
  const total = () => [...channels.values()].reduce((n, c) => n + c.streams.size, 0)

  const perMinute = status.refreshPerMinute
  registerStatusRoutes(app, {
    service,
    channel,
    onRequest: [deps.ipRateLimit],
    refreshLimit: ipRateLimit({
      limiter: 'status-refresh',
      rule: { rps: perMinute / 60, burst: 1 },
      store: engine.rateLimits,
      rejected: deps.rateLimited.child('status-refresh'),
      log,
      idOf: (request) => (request.params as { slug: string }).slug,
      refusal: 'status_refresh_limited',
    }),
    maxSubscribers: status.maxSubscribers,
    maxSubscribersPerIp: status.maxSubscribersPerIp,
    subscribers: total,
    cache: (slug) => engine.statusCache.get(slug),
    maxBufferedBytes: config.ws.maxBufferedBytes,
    onSlow: () => slow.inc(),
  })

  // Streams hold their connections open: end them first, or the server would wait for them to close.
  app.addHook('preClose', async () => {
    await Promise.all([...channels.values()].map((c) => c.close()))
  })

  let keepalive: NodeJS.Timeout | undefined
  let counting: NodeJS.Timeout | undefined
  return {
    service,
    reload(next) {
      sources.clear()
      for (const s of next.status.sources) sources.set(s.slug, s)
      for (const [slug, c] of channels) {
        if (service.source(slug)) continue
        channels.delete(slug)
        if (c.streams.size > 0) log.info({ slug, streams: c.streams.size }, 'status source removed or made inactive: its streams end')
        void c.close()
      }
    },
    subscribers: () => Object.fromEntries([...channels].map(([slug, c]) => [slug, c.streams.size])),
    start() {
      keepalive = setInterval(() => {
        const frame = Buffer.from(sseFrame('ping', { time: Date.now() / 1000 }))
        for (const c of channels.values()) c.writeAll(frame)
      }, status.keepaliveSeconds * 1000)
      keepalive.unref()
      counting = setInterval(() => gauge.set(total()), 1_000)
      counting.unref()
    },
    async close() {
      clearInterval(keepalive)
      clearInterval(counting)
      await Promise.all([...channels.values()].map((c) => c.close()))
    },
  }
}
