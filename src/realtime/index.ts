/**
 * The realtime gateway (seed 001): `WS /ws`, event routing, liveness, the
 * cluster broadcast behind `POST /internal/broadcast`, and the history of its
 * streams with `recover` (history/).
 */
import { overCaps, refuseOverCaps } from '../ratelimit/caps.js'
import Type from 'typebox'
import { errors } from '../openapi/schemas.js'
import websocket from '@fastify/websocket'
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify'
import type { WebSocket } from 'ws'
import type { DeviceVerifier, VerifiedDevice } from '../auth/device-identity.js'
import type { FailureBudget } from '../auth/failures.js'
import type { AuthSecrets } from '../auth/tokens.js'
import { internalTokenGuard } from '../auth/internal.js'
import type { Config } from '../config/schema.js'
import type { Engine } from '../engine/types.js'
import { RoomgateError } from '../errors.js'
import { EventRouter } from '../events/routing.js'
import type { Logger } from '../log.js'
import type { Counter, Histogram, Registry } from '../metrics/registry.js'
import type { RateRules } from '../ratelimit/rules.js'
import type { FailureLog } from '../upstream/failure-log.js'
import type { Upstreams } from '../upstream/pools.js'
import { Broadcaster } from './broadcast.js'
import { registerBroadcastRoute } from './broadcast-route.js'
import { Client } from './client.js'
import { DeviceAuth } from './device-auth.js'
import { registerIdentityEvents } from './identity-events.js'
import { Gateway } from './gateway.js'
import { Hub } from './hub.js'
import { Liveness } from './liveness.js'
import { isValidDeviceId, LocalEvents } from './local-events.js'
import { RealtimeMetrics } from './metrics.js'
import { Recovery } from './history/recovery.js'
import { registerRecover } from './history/recover-event.js'
import type { HistorySettings } from './history/types.js'
import { paceUpgrades, releaseUpgrade } from './upgrades.js'

const historySettings = (config: Config): HistorySettings => ({
  size: config.realtime.history.size,
  ttlMs: config.realtime.history.ttlSeconds * 1000,
  metaTtlMs: config.realtime.history.metaTtlSeconds * 1000,
})

/** WebSocket close code "service restart": reconnect (to another instance) and recover. */
export const CLOSE_SERVICE_RESTART = 1012
/** WebSocket close code "try again later". */
export const CLOSE_TRY_AGAIN_LATER = 1013

export interface RealtimeDeps {
  config: Config
  engine: Engine
  upstreams: Upstreams
  registry: Registry
  upstreamLatency: Histogram
  rateLimited: Counter
  failures: FailureLog
  log: Logger
  /** The per-IP HTTP limit, applied to upgrade requests too. */
  ipRateLimit: onRequestHookHandler
  /** Each connection's bucket (per IP's rule) and the per-device one. */
  rateRules: RateRules
  /** The client IPs' budget of wrong credentials. */
  failedAuth: FailureBudget
  /** Device tokens (auth.devices). */
  devices: DeviceVerifier
  /** auth.internalToken, for /internal/broadcast. */
  secrets: AuthSecrets
}

export interface Realtime {
  hub: Hub
  /** Where other capabilities add the events roomgate answers itself. */
  local: LocalEvents
  broadcaster: Broadcaster
  /** A config reload: the event routing table. */
  reload(next: Config): void
  start(): Promise<void>
  close(): Promise<void>
  /** Cuts every connection still open (after the drain timeout). */
  terminateAll(): void
}

const deviceIdOf = (request: FastifyRequest): unknown => (request.query as { device_id?: unknown }).device_id

export async function registerRealtime(app: FastifyInstance, deps: RealtimeDeps): Promise<Realtime> {
  const { config, log } = deps
  const auth = new DeviceAuth(deps.devices, deps.failedAuth)
  /** Upgrades whose token was verified, until their socket is open. */
  const verified = new WeakMap<FastifyRequest, VerifiedDevice>()
  const hub = new Hub()
  const local = new LocalEvents()
  const metrics = new RealtimeMetrics(deps.registry, hub, deps.upstreamLatency, deps.rateLimited)
  const router = new EventRouter(config.events.routes)
  const gateway = new Gateway({
    hub,
    local,
    metrics,
    log,
    rateLimits: deps.engine.rateLimits,
    rules: deps.rateRules,
    router,
    upstreams: deps.upstreams,
    failures: deps.failures,
    timeoutMs: config.httpTimeoutSeconds * 1000,
    maxInflight: config.ws.maxInflight,
  })
  registerIdentityEvents(local, hub, auth)
  const history = historySettings(config)
  const broadcaster = new Broadcaster(deps.engine, hub, history, config.broadcast.ackTimeoutMs, metrics, log)
  registerRecover(local, new Recovery(hub, deps.engine.streams, history, metrics))
  const liveness = new Liveness(hub, config.ws.pingIntervalMs)

  // ws already closes the socket with the right code (1009, 1007, 1002) on a
  // protocol error; the error is the client's, so it is not worth more than debug.
  const onProtocolError = (err: Error) => log.debug({ err: err.message }, 'websocket protocol error')
  await app.register(websocket, {
    options: {
      maxPayload: config.maxMessageBytes,
      // Compression would cost ~300 KB of zlib state per connection.
      perMessageDeflate: false,
      clientTracking: false,
    },
    errorHandler: onProtocolError,
    // Shutdown: tell every client to reconnect elsewhere (it recovers there), then let them close.
    preClose: (done) => {
      for (const client of hub.all()) client.socket.close(CLOSE_SERVICE_RESTART, 'service restart')
      done()
    },
  })
  // A mass reconnect's upgrades are routed one per turn of the loop (see Turns).
  paceUpgrades(app.server)

  const onDisconnect = (client: Client, reason: string) => {
    metrics.disconnects.child(reason).inc()
    log.info({ device: client.deviceId, ip: client.ip, reason }, 'websocket client cut off')
  }

  // Connection caps: one instance's memory, and one client IP's share of it.
  const caps = (ip: string) => ({
    open: hub.size,
    max: config.ws.maxConnections,
    fromIp: hub.connectionsFrom(ip),
    maxPerIp: config.ws.maxConnectionsPerIp,
    busy: 'ws_server_busy' as const,
    perIp: 'ws_per_ip' as const,
  })
  app.route({
    method: 'GET',
    url: '/ws',
    schema: {
      tags: ['realtime'],
      summary: 'WebSocket gateway (seed 001 protocol: see the Ws* schemas)',
      querystring: Type.Object({
        device_id: Type.Optional(Type.String({ description: 'Identify at connect time (1–256 printable characters)' })),
        token: Type.Optional(
          Type.String({ description: 'A device token (auth.devices); or send Authorization: Bearer, or identify with {"token"}' }),
        ),
      }),
      response: {
        101: { description: 'Switching to WebSocket' },
        ...errors('bad_request', 'unauthorized', 'upgrade_required', 'rate_limited', 'server_busy', 'shutting_down'),
      },
    },
    onRequest: [
      deps.ipRateLimit,
      async (request: FastifyRequest) => {
        refuseOverCaps(caps(request.ip))
        const id = deviceIdOf(request)
        if (id !== undefined && !isValidDeviceId(id)) {
          throw new RoomgateError('device_id_invalid')
        }
        const token = DeviceAuth.tokenOf(request)
        if (token !== undefined) {
          const device = await auth.verify(request.ip, token)
          if (id !== undefined && id !== device.deviceId) throw new RoomgateError('device_id_not_token')
          verified.set(request, device)
        } else if (id !== undefined && auth.required) {
          throw new RoomgateError('token_required')
        }
      },
    ],
    // A plain HTTP GET on /ws.
    handler: async () => {
      throw new RoomgateError('upgrade_required')
    },
    wsHandler: (socket: WebSocket, request: FastifyRequest) => {
      releaseUpgrade(socket, request.raw, onProtocolError)
      // Upgrades that passed the check together may still overshoot: the last ones are closed at once.
      if (overCaps(caps(request.ip))) {
        metrics.disconnects.child('connection_cap').inc()
        socket.close(CLOSE_TRY_AGAIN_LATER, 'too many connections')
        return
      }
      const client = new Client(socket, request.ip, {
        rateLimit: deps.rateRules.perIp,
        maxBufferedBytes: config.ws.maxBufferedBytes,
        onDisconnect,
      })
      hub.add(client)
      const device = verified.get(request)
      const id = deviceIdOf(request)
      if (device) {
        auth.hold(client, device)
        hub.identify(client, device.deviceId)
      } else if (isValidDeviceId(id)) {
        hub.identify(client, id)
      }
      hub.connected(client)
      socket.on('message', (data: Buffer) => {
        try {
          gateway.onMessage(client, data.toString('utf8'))
        } catch (err) {
          log.error({ err }, 'websocket message handler failed')
        }
      })
      socket.on('pong', () => {
        client.alive = true
      })
      socket.on('close', () => hub.remove(client))
    },
  })

  registerBroadcastRoute(app, broadcaster, internalTokenGuard(deps.secrets.internalToken, deps.failedAuth))

  return {
    hub,
    local,
    broadcaster,
    reload(next) {
      router.reload(next.events.routes)
    },
    async start() {
      liveness.start()
      await broadcaster.start()
    },
    async close() {
      liveness.close()
      await broadcaster.close()
    },
    terminateAll() {
      for (const client of hub.all()) client.socket.terminate()
    },
  }
}
