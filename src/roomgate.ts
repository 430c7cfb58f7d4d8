/**
 * Starting and stopping one roomgate instance. Shutdown is graceful: stop
 * accepting, tell WebSocket clients to reconnect elsewhere (1012), let in-flight
 * proxied requests finish until the drain timeout, then cut what is left and
 * release Redis.
 */
import type { FastifyInstance } from 'fastify'
import type { Config } from './config/schema.js'
import { createEngine, redisTarget } from './engine/index.js'
import type { Engine } from './engine/types.js'
import { loggerOf, safeUrl, type Logger } from './log.js'
import { buildServer, type Server } from './server.js'
import type { ReloadResult } from './reload.js'

/** How often idle keep-alive connections are closed while draining. */
const IDLE_SWEEP_MS = 100

export interface Roomgate {
  /** The config running now (a reload changes its live keys). */
  readonly config: Readonly<Config>
  readonly engine: Engine
  readonly app: FastifyInstance
  readonly server: Server
  /** `http://host:port` the instance listens on (the real port when the config says 0). */
  readonly url: string
  /** The admin listener's `http://host:port`, when `admin.port` is set. */
  readonly adminUrl: string | undefined
  /** Reads the config again (`load`) and applies what can change live: SIGHUP, `POST /admin/reload`. */
  reload(): Promise<ReloadResult>
  /** Graceful shutdown; idempotent. */
  close(): Promise<void>
}

export interface StartOptions {
  logger?: Logger
  /** Where secrets named by the config (`*Env`) are read; `process.env` by default. */
  env?: NodeJS.ProcessEnv
  /** Reads the config again for a reload, as it was read for the start; without it a reload is refused. */
  load?: () => Readonly<Config>
}

export async function startRoomgate(config: Config, options: StartOptions = {}): Promise<Roomgate> {
  const log = options.logger ?? loggerOf(config)
  const engine = await createEngine(config, log)
  let server: Server | undefined
  try {
    server = await buildServer(config, engine, log, { env: options.env, load: options.load })
    await server.app.listen({ port: config.port, host: config.host })
    await server.admin?.listen({ port: config.admin.port, host: config.admin.host })
    await server.start()
  } catch (err) {
    await server?.admin?.close().catch(() => undefined)
    await server?.app.close().catch(() => undefined)
    await engine.close()
    throw err
  }
  const { app } = server
  const url = listenUrl(app, config.host, config.port)
  const adminUrl = server.admin && listenUrl(server.admin, config.admin.host, config.admin.port ?? 0)

  log.info(
    {
      url,
      admin: adminUrl,
      instance: engine.instanceId,
      engine: engine.kind,
      redis: redisTarget(config),
      services: Object.fromEntries(Object.entries(config.services).map(([k, s]) => [k, safeUrl(s.url)])),
    },
    'roomgate listening',
  )

  let closed: Promise<void> | undefined
  const close = () => {
    closed ??= (async () => {
      log.info({ drainTimeoutMs: config.shutdown.drainTimeoutMs }, 'shutting down')
      server.beginClose()
      // Keep-alive connections that finish their last response while we drain
      // would otherwise stay open until their idle timeout.
      const idle = setInterval(() => app.server.closeIdleConnections(), IDLE_SWEEP_MS)
      idle.unref()
      const timer = setTimeout(() => {
        log.warn('drain timeout reached: cutting the connections still open')
        app.server.closeAllConnections()
        server.realtime.terminateAll()
        void server.upstreams.destroy()
      }, config.shutdown.drainTimeoutMs)
      timer.unref()
      try {
        await app.close()
      } finally {
        clearTimeout(timer)
        clearInterval(idle)
        // Last, so metrics and probes answer while the instance drains.
        await server.admin?.close()
        await engine.close()
      }
      log.info('roomgate stopped')
    })()
    return closed
  }

  return {
    get config() {
      return server.config
    },
    engine,
    app,
    server,
    url,
    adminUrl,
    reload: () => server.reload(),
    close,
  }
}

/** `http://host:port` of a listening app, with a reachable host for a wildcard address. */
function listenUrl(app: FastifyInstance, configured: string, port: number): string {
  const address = app.server.address()
  const real = typeof address === 'object' && address ? address.port : port
  const host = configured === '0.0.0.0' || configured === '::' ? '127.0.0.1' : configured
  return `http://${host.includes(':') ? `[${host}]` : host}:${real}`
}
