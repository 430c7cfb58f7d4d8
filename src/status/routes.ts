/**
 * Seed 004's public API: GET /api/public/{slug}/status, the SSE stream at
 * /api/public/{slug}/status/stream, and POST /api/public/{slug}/status/refresh
 * (rate limited per slug, cluster-wide). The seed's own tests call the same
 * routes under /projects/{slug}/…, so both prefixes answer.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import { RoomgateError } from '../errors.js'
import { PerIpCounts, refuseOverCaps } from '../ratelimit/caps.js'
import type { StatusChannel } from './channel.js'
import type { StatusService } from './service.js'
import { REFRESH_SCHEMA, STATUS_SCHEMA, STREAM_HEAD_SCHEMA, STREAM_SCHEMA } from './schemas.js'
import type { StatusSnapshot } from './types.js'
import { SSE_HEADERS, sseFrame, SseStream } from './sse.js'

export const PREFIXES = ['/api/public', '/projects'] as const

export interface StatusRoutesDeps {
  service: StatusService
  channel: (slug: string) => StatusChannel
  /** Per-IP limit on every route; the refresh adds the per-slug one. */
  onRequest: onRequestHookHandler[]
  refreshLimit: onRequestHookHandler
  maxSubscribers: number
  maxSubscribersPerIp: number
  subscribers: () => number
  cache: (slug: string) => Promise<StatusSnapshot | undefined>
  maxBufferedBytes: number
  onSlow: () => void
}

const slugOf = (request: FastifyRequest) => (request.params as { slug: string }).slug

export function registerStatusRoutes(app: FastifyInstance, d: StatusRoutesDeps): void {
  const known: onRequestHookHandler = (request, _reply, done) => {
    if (d.service.source(slugOf(request))) return done()
    done(new RoomgateError('project_not_found'))
  }
  const opts = { onRequest: [...d.onRequest, known] }
  /** Open streams per client IP on this instance. */
  const perIp = new PerIpCounts()

  for (const prefix of PREFIXES) {
    app.get(`${prefix}/:slug/status`, { ...opts, schema: STATUS_SCHEMA }, async (request) => {
      const slug = slugOf(request)
      const current = await d.service.current(slug)
      return {
        project: slug,
        statuses: current.statuses,
        count: Object.keys(current.statuses).length,
        ...(current.stale ? { stale: true } : {}),
      }
    })

    // HEAD (a load balancer's check) gets the stream's headers and no stream: it would never end.
    app.get(`${prefix}/:slug/status/stream`, { ...opts, exposeHeadRoute: false, schema: STREAM_SCHEMA }, (request, reply) => stream(request, reply, d, perIp))
    app.head(`${prefix}/:slug/status/stream`, { ...opts, schema: STREAM_HEAD_SCHEMA }, async (_request, reply) => {
      void reply.headers(SSE_HEADERS)
      return ''
    })

    app.post(`${prefix}/:slug/status/refresh`, { onRequest: [...opts.onRequest, d.refreshLimit], schema: REFRESH_SCHEMA }, async (request) => {
      const slug = slugOf(request)
      try {
        // The read announces the new statuses to every subscriber.
        const snapshot = await d.service.read(slug, true)
        return { project: slug, statuses: snapshot.statuses, refreshed: true }
      } catch {
        // The client API just failed: what the cache has, without asking it again.
        const cached = await d.cache(slug)
        return { project: slug, statuses: cached?.statuses ?? {}, refreshed: false, stale: true }
      }
    })
  }
}

async function stream(request: FastifyRequest, reply: FastifyReply, d: StatusRoutesDeps, perIp: PerIpCounts): Promise<void> {
  const ip = request.ip
  refuseOverCaps({
    open: d.subscribers(),
    max: d.maxSubscribers,
    fromIp: perIp.of(ip),
    maxPerIp: d.maxSubscribersPerIp,
    perIp: 'streams_per_ip',
  })
  const slug = slugOf(request)
  // Before the 200 goes out: with Redis down the answer is a 503, not a stream cut after its headers.
  await d.cache(slug)
  const channel = d.channel(slug)
  reply.hijack()
  const res = reply.raw
  // The client may have left while the hooks ran (a slow rate-limit store): its 'close' has fired already.
  if (res.destroyed || request.raw.socket.destroyed) {
    res.destroy()
    return
  }
  perIp.add(ip)
  res.once('close', () => perIp.remove(ip))
  res.writeHead(200, SSE_HEADERS)
  // Headers now, so a client (or a proxy) knows the stream is open before the first event.
  res.flushHeaders()
  const sse = new SseStream(res, d.maxBufferedBytes, () => {
    d.onSlow()
    request.log.info({ slug, ip: request.ip }, 'slow SSE reader cut off')
  })
  sse.write(sseFrame('connected', { project: slug }))
  res.once('close', () => channel.remove(sse))
  channel.add(sse).catch((err: unknown) => {
    request.log.warn({ slug, err: (err as Error).message }, 'status snapshot for a new subscriber failed')
    channel.remove(sse)
    res.destroy()
  })
}
