/**
 * Checks every HTTP request passes before any route sees it (issue 11):
 * one Host header (RFC 9112 §3.2), WebSocket upgrades only on WebSocket
 * routes, and request bodies that keep arriving and of which one client IP
 * sends a bounded number at once. The server's own timeouts (request head,
 * keep-alive) are set in `serverOptions`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import type { IncomingMessage, ServerOptions } from 'node:http'
import type { HttpConfig } from '../config/http-schema.js'
import { RoomgateError } from '../errors.js'
import { hasBody } from '../http-body.js'
import { writeError } from '../http-errors.js'
import type { Logger } from '../log.js'
import { Uploads } from './uploads.js'

/** Node checks head timeouts on an interval; its default (30 s) would let a 20 s timeout run to 50 s. */
export function headersCheckIntervalMs(headersTimeoutMs: number): number {
  return Math.max(50, Math.min(1_000, Math.floor(headersTimeoutMs / 4)))
}

/** Fastify's server options for these limits. */
export function serverOptions(http: HttpConfig): { http: ServerOptions; keepAliveTimeout: number; requestTimeout: number } {
  return {
    http: {
      headersTimeout: http.headersTimeoutMs,
      connectionsCheckingInterval: headersCheckIntervalMs(http.headersTimeoutMs),
      // No deadline on a whole request: an upload of many GB may take hours.
      // A body is held to its idle timeout instead (uploads.ts).
      requestTimeout: 0,
    },
    keepAliveTimeout: http.keepAliveTimeoutMs,
    requestTimeout: 0,
  }
}

export interface FrontDoorOptions {
  http: HttpConfig
  log: Logger
}

export class FrontDoor {
  private readonly uploads: Uploads
  /** Routes registered with a WebSocket handler, the only ones an upgrade may reach. */
  private readonly websocketRoutes = new Set<string>()

  constructor(private readonly o: FrontDoorOptions) {
    this.uploads = new Uploads(o.http.bodyIdleTimeoutMs, o.http.maxUploadsPerIp)
  }

  /** Bodies being received from `ip` right now. */
  uploadsFrom(ip: string): number {
    return this.uploads.from(ip)
  }

  install(app: FastifyInstance): void {
    app.addHook('onRoute', (route) => {
      if (route.wsHandler || route.websocket) this.websocketRoutes.add(route.url)
    })
    // A decorated field, not a WeakMap keyed by requests: that many short-lived
    // weak keys cost the proxy a fifth of its POST throughput in GC.
    app.decorateRequest('bodyIdle', null)
    app.addHook('onRequest', this.check)
    app.addHook('onClose', (_app, done) => {
      this.uploads.close()
      done()
    })
  }

  /** For a route that streams the body itself (the proxy): it answers, instead of the default 408, when the body goes silent. */
  onBodyIdle(request: FastifyRequest, react: () => void): void {
    request.bodyIdle = react
  }

  private readonly check: onRequestHookHandler = (request, reply, done) => {
    const req = request.raw
    const refused = this.refusal(request)
    if (refused) {
      // An upgrade's socket is no longer Node's to close after the answer.
      if (isUpgrade(req)) reply.raw.once('finish', () => req.socket.destroySoon())
      return done(refused)
    }
    if (!hasBody(req)) return done()
    if (!this.uploads.begin(req, request.ip, () => this.timedOut(request, reply))) {
      return done(
        new RoomgateError('uploads_per_ip', { max: this.o.http.maxUploadsPerIp }, { headers: { 'retry-after': '1' } }),
      )
    }
    done()
  }

  private refusal(request: FastifyRequest): RoomgateError | undefined {
    const req = request.raw
    if (hostHeaders(req.rawHeaders) > 1) return new RoomgateError('host_headers', undefined, CLOSE)
    // Node hands an Upgrade request over as a raw socket: it must reach a WebSocket route or be refused before any 101.
    if (isUpgrade(req) && !request.is404 && !this.websocketRoutes.has(request.routeOptions.url ?? '')) {
      return new RoomgateError('upgrade_elsewhere', { routes: [...this.websocketRoutes].join(', ') || 'no route' }, CLOSE)
    }
    return undefined
  }

  private timedOut(request: FastifyRequest, reply: FastifyReply): void {
    const ms = this.o.http.bodyIdleTimeoutMs
    this.o.log.info({ ip: request.ip, method: request.method, url: request.url.slice(0, 200) }, `request body silent for ${ms} ms: answered 408`)
    if (request.bodyIdle) return request.bodyIdle()
    const err = bodyTimeout(ms)
    // Fastify's body parser is reading: failing the body makes it answer
    // through the one error handler. Nobody reading: answer here.
    if (request.raw.listenerCount('error') > 0) request.raw.emit('error', err)
    else writeError(reply.raw, err, { close: true })
  }
}

/** The 408 of a body that went silent for `ms`. */
export function bodyTimeout(ms: number): RoomgateError {
  return new RoomgateError('body_stalled', { ms }, CLOSE)
}

/** Refused before the body or the upgrade: the connection is closed after the answer. */
const CLOSE = { headers: { connection: 'close' } }

/** Set by Node's parser (Connection: upgrade with an Upgrade header); such a request arrives as a raw socket. */
function isUpgrade(req: IncomingMessage): boolean {
  return (req as IncomingMessage & { upgrade?: boolean }).upgrade === true
}

function hostHeaders(raw: string[]): number {
  let n = 0
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    if (name.length === 4 && name.toLowerCase() === 'host') n++
  }
  return n
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by a route that streams its body itself: how it answers when the body goes silent (see FrontDoor.onBodyIdle). */
    bodyIdle: (() => void) | null
  }
}
