/**
 * The HTTP proxy (seed 001): each configured prefix is forwarded to its
 * service with path and query unchanged and bodies streamed both ways, behind
 * the per-IP rate limit and the route's credential check. On a `token` route
 * the verified device reaches the upstream as `X-Roomgate-Device-Id`. The
 * routes and services are looked up on each request, so a config reload
 * changes them for the next one.
 */
import { errors, SECURITY } from '../openapi/schemas.js'
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods, onRequestHookHandler } from 'fastify'
import { credentialGuard, deviceGuard } from '../auth/credentials.js'
import type { DeviceVerifier } from '../auth/device-identity.js'
import type { FailureBudget } from '../auth/failures.js'
import type { AuthSecrets } from '../auth/tokens.js'
import type { Config, ProxyRouteConfig } from '../config/schema.js'
import { RoomgateError } from '../errors.js'
import { bodyTimeout, type FrontDoor } from '../http/front-door.js'
import type { Counter, CounterChild, Histogram } from '../metrics/registry.js'
import type { FailureLog } from '../upstream/failure-log.js'
import type { Upstreams } from '../upstream/pools.js'
import { forward } from './forward.js'
import { requestHeaders, targetProblem } from './headers.js'
import { hasBody } from '../http-body.js'
import { routeNotFound } from '../http-errors.js'
import { routePrefix, type ProxyRoute, type ProxyTable } from './routes.js'

const METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

const ROUTE_SECURITY = {
  none: SECURITY.none,
  bearer: SECURITY.bearer,
  apiKey: SECURITY.apiKey,
  token: SECURITY.deviceToken,
} as const satisfies Record<ProxyRouteConfig['auth'], unknown>

export interface ProxyDeps {
  config: Config
  upstreams: Upstreams
  rateLimit: onRequestHookHandler
  requests: Counter
  upstreamLatency: Histogram
  failures: FailureLog
  /** Uploads are streamed here, so this route reacts to their idle timeout itself. */
  frontDoor: FrontDoor
  /** The client IPs' budget of wrong credentials. */
  failedAuth: FailureBudget
  /** Checks the device tokens of `auth: token` routes. */
  devices: DeviceVerifier
  /** The bearer tokens and API keys of `auth: bearer` and `auth: apiKey` routes. */
  secrets: AuthSecrets
  /** The live routes (the app's `proxied` constraint reads them too). */
  table: ProxyTable
}

export interface Proxy {
  /** A config reload: the next request takes the new routes (one in progress keeps its route). */
  reload(routes: readonly ProxyRouteConfig[]): void
}

/** A service's request counter by status, each child looked up once. */
function byStatus(requests: Counter, service: string): (status: number) => CounterChild {
  const children = new Map<number, CounterChild>()
  return (status) => {
    let child = children.get(status)
    if (child === undefined) {
      child = requests.child(service, String(status))
      children.set(status, child)
    }
    return child
  }
}

/** The credentials of the route a request matched. */
const checkCredentials: onRequestHookHandler = function (request, reply, done) {
  const guard = request.proxyRoute!.guard
  if (!guard) return done()
  guard.call(this, request, reply, done)
}

export async function registerProxy(app: FastifyInstance, deps: ProxyDeps): Promise<Proxy> {
  const { config, table } = deps
  const timeoutMs = config.httpTimeoutSeconds * 1000
  const bodyIdleMs = config.http.bodyIdleTimeoutMs
  const reload = (routes: readonly ProxyRouteConfig[]) =>
    table.replace(
      routes.map((route) => ({
        prefix: routePrefix(route),
        service: route.service,
        guard: route.auth === 'token' ? deviceGuard(deps.devices, deps.failedAuth) : credentialGuard(route.auth, deps.secrets, deps.failedAuth),
        latency: deps.upstreamLatency.child(route.service, 'proxy'),
        answered: byStatus(deps.requests, route.service),
      })),
    )
  reload(config.proxy.routes)

  // The target's own checks, then its route: a reload may have removed the one Fastify matched.
  const matchRoute: onRequestHookHandler = (request, _reply, done) => {
    const url = request.raw.url ?? ''
    const problem = targetProblem(url)
    if (problem) return done(new RoomgateError(problem))
    // Node undoes `chunked` only: forwarded on, any other coding (gzip, chunked)
    // would reach the service as if it were plain data (RFC 9112 §6.1: answer 501).
    const te = request.headers['transfer-encoding']
    if (te !== undefined && te.trim().toLowerCase() !== 'chunked') {
      return done(new RoomgateError('transfer_encoding', { value: JSON.stringify(te) }))
    }
    const route = table.match(url)
    if (!route) return done(routeNotFound(request))
    request.proxyRoute = route
    done()
  }
  const onRequest = [deps.rateLimit, matchRoute, checkCredentials]

  const handler = (request: FastifyRequest, reply: FastifyReply): void => {
    void reply.hijack()
    const req = request.raw
    const route = request.proxyRoute!
    const upstream = deps.upstreams.get(route.service)
    const headers = requestHeaders(req, upstream.host, {
      for: request.ip,
      proto: request.protocol,
      host: request.host,
      deviceId: request.verifiedDevice?.deviceId,
    })
    const call = forward(req, reply.raw, upstream, req.url!, headers, timeoutMs, (status, seconds, error) => {
      route.answered(status).inc()
      if (status > 0) route.latency.observe(seconds)
      if (error) deps.failures.report(route.service, 'proxy', error)
    })
    if (hasBody(req)) deps.frontDoor.onBodyIdle(request, () => call.abort(bodyTimeout(bodyIdleMs)))
  }

  await app.register(async (scope) => {
    // Bodies stay unread: forward() streams them to the upstream as they arrive,
    // so an upload of any size never sits in memory and no body limit applies.
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null))
    // Set by matchRoute and deviceGuard; declared here so every request has the fields from the start.
    scope.decorateRequest('proxyRoute', null)
    scope.decorateRequest('verifiedDevice', null)

    // The routes at start, each with its documentation; all of them serve whatever route the table has now.
    for (const route of config.proxy.routes) {
      const prefix = routePrefix(route)
      const schema = {
        tags: ['proxy'],
        summary: `Proxied to the ${route.service} service`,
        security: ROUTE_SECURITY[route.auth],
        response: {
          default: { description: "The upstream's answer, streamed as it is" },
          ...errors('bad_request', ...(route.auth === 'none' ? [] : (['unauthorized'] as const)), 'rate_limited'),
          ...errors('upstream_unavailable', 'upstream_busy', 'upstream_timeout'),
        },
      }
      for (const url of [prefix, `${prefix}/*`]) {
        scope.route({ method: METHODS, url, handler, onRequest, schema, exposeHeadRoute: false })
      }
    }
    // And the prefixes a reload adds (see ProxyTable.constraint).
    scope.route({ method: METHODS, url: '/*', constraints: { proxied: 'yes' }, handler, onRequest, schema: { hide: true }, exposeHeadRoute: false })
  })
  return { reload }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The proxy route a request matched (set by the proxy's matchRoute hook); null elsewhere. */
    proxyRoute: ProxyRoute | null
  }
}
