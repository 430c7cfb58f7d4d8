/**
 * The HTTP proxy (seed 001): each configured prefix is forwarded to its
 * service with path and query unchanged and bodies streamed both ways, behind
 * the per-IP rate limit and the route's credential check. On a `token` route
 * the verified device reaches the upstream as `X-Roomgate-Device-Id`.
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
import type { Counter, Histogram } from '../metrics/registry.js'
import type { FailureLog } from '../upstream/failure-log.js'
import type { Upstreams } from '../upstream/pools.js'
import { forward } from './forward.js'
import { requestHeaders, targetProblem } from './headers.js'
import { hasBody } from '../http-body.js'

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
}

const checkTarget: onRequestHookHandler = (request, _reply, done) => {
  const problem = targetProblem(request.raw.url ?? '')
  if (problem) return done(new RoomgateError(problem))
  // Node undoes `chunked` only: forwarded on, any other coding (gzip, chunked)
  // would reach the service as if it were plain data (RFC 9112 §6.1: answer 501).
  const te = request.headers['transfer-encoding']
  if (te !== undefined && te.trim().toLowerCase() !== 'chunked') {
    return done(new RoomgateError('transfer_encoding', { value: JSON.stringify(te) }))
  }
  done()
}

export async function registerProxy(app: FastifyInstance, deps: ProxyDeps): Promise<void> {
  const { config } = deps
  const timeoutMs = config.httpTimeoutSeconds * 1000
  const bodyIdleMs = config.http.bodyIdleTimeoutMs
  await app.register(async (scope) => {
    // Bodies stay unread: forward() streams them to the upstream as they arrive,
    // so an upload of any size never sits in memory and no body limit applies.
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null))
    // Set by deviceGuard; declared here so every request has the field from the start.
    scope.decorateRequest('verifiedDevice', null)

    for (const route of config.proxy.routes) {
      const upstream = deps.upstreams.get(route.service)
      const guard =
        route.auth === 'token' ? deviceGuard(deps.devices, deps.failedAuth) : credentialGuard(route.auth, deps.secrets, deps.failedAuth)
      const latency = deps.upstreamLatency.child(route.service, 'proxy')
      const onRequest = guard ? [deps.rateLimit, checkTarget, guard] : [deps.rateLimit, checkTarget]

      const handler = (request: FastifyRequest, reply: FastifyReply): void => {
        void reply.hijack()
        const req = request.raw
        const headers = requestHeaders(req, upstream.host, {
          for: request.ip,
          proto: request.protocol,
          host: request.host,
          deviceId: request.verifiedDevice?.deviceId,
        })
        const call = forward(req, reply.raw, upstream, req.url!, headers, timeoutMs, (status, seconds, error) => {
          deps.requests.child(route.service, String(status)).inc()
          if (status > 0) latency.observe(seconds)
          if (error) deps.failures.report(route.service, 'proxy', error)
        })
        if (hasBody(req)) deps.frontDoor.onBodyIdle(request, () => call.abort(bodyTimeout(bodyIdleMs)))
      }

      const prefix = route.prefix.replace(/\/+$/, '')
      const schema = {
        tags: ['proxy'],
        summary: `Proxied to the ${route.service} service`,
        security: ROUTE_SECURITY[route.auth],
        response: {
          default: { description: "The upstream's answer, streamed as it is" },
          ...errors('bad_request', ...(guard ? (['unauthorized'] as const) : []), 'rate_limited'),
          ...errors('upstream_unavailable', 'upstream_busy', 'upstream_timeout'),
        },
      }
      for (const url of [prefix, `${prefix}/*`]) {
        scope.route({ method: METHODS, url, handler, onRequest, schema, exposeHeadRoute: false })
      }
    }
  })
}
