/**
 * Header rules of the proxy. Hop-by-hop headers (RFC 9110 §7.6.1, plus any
 * named in `Connection`) never cross it. `X-Forwarded-*` is written by roomgate
 * from what it saw (see ForwardedFor); a client's own values, and headers that
 * claim a client address, are dropped. `X-Roomgate-*` is roomgate's own word
 * to the upstream (the verified device): a client's, under any spelling, never
 * crosses, whatever the route's auth.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import type { NameWith } from '../errors.js'

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

/** Request headers that roomgate rewrites, or that claim a client address roomgate did not see. */
const REQUEST_DROPPED = new Set([
  ...HOP_BY_HOP,
  'host',
  // Node's server already answered `100 Continue`; undici does not take `expect`.
  'expect',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'forwarded',
  'x-real-ip',
  'true-client-ip',
  'x-client-ip',
  // httpoxy: a `Proxy` header becomes HTTP_PROXY in CGI-style backends.
  'proxy',
])

function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (!value) return undefined
  const text = Array.isArray(value) ? value.join(',') : value
  const tokens = text
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t && t !== 'close' && t !== 'keep-alive')
  return tokens.length > 0 ? new Set(tokens) : undefined
}

/**
 * What roomgate tells the upstream about the client, from Fastify's view of the
 * request: the socket's peer, or, behind proxies listed in `trustProxy`, what
 * they reported.
 */
export interface ForwardedFor {
  for: string
  proto: string
  host: string | undefined
  /** The device a token route verified, sent as `X-Roomgate-Device-Id`. */
  deviceId?: string | undefined
}

/** Headers only roomgate writes: the upstream may trust them, so no client's copy is forwarded. */
const OWN_PREFIX = 'x-roomgate-'

/** Flat `[name, value, ...]` list for undici, case and order preserved. */
export function requestHeaders(req: IncomingMessage, upstreamHost: string, fwd: ForwardedFor): string[] {
  const raw = req.rawHeaders
  const extra = connectionTokens(req.headers.connection)
  const out: string[] = []
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    const lower = name.toLowerCase()
    if (REQUEST_DROPPED.has(lower) || lower.startsWith('proxy-') || lower.startsWith(OWN_PREFIX) || extra?.has(lower)) continue
    out.push(name, raw[i + 1]!)
  }
  out.push('host', upstreamHost, 'x-forwarded-for', fwd.for, 'x-forwarded-proto', fwd.proto)
  if (fwd.host) out.push('x-forwarded-host', fwd.host)
  if (fwd.deviceId !== undefined) out.push('x-roomgate-device-id', utf8Bytes(fwd.deviceId))
  return out
}

/**
 * A device id as the header's bytes: its UTF-8, one character per byte (undici
 * writes header text as Latin-1, and refuses characters past U+00FF). An
 * ASCII id is unchanged; any other arrives as its UTF-8 instead of failing the call.
 */
function utf8Bytes(value: string): string {
  return Buffer.from(value, 'utf8').toString('latin1')
}

/**
 * The upstream's response headers without hop-by-hop ones, as a new object
 * (deleting keys would turn undici's object into a slow dictionary on every answer).
 */
export function responseHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const extra = connectionTokens(headers.connection)
  const out: IncomingHttpHeaders = {}
  for (const name in headers) {
    if (!HOP_BY_HOP.has(name) && !extra?.has(name)) out[name] = headers[name]
  }
  return out
}

/** The registry's name for a target that is not forwarded (each a 400 `bad_request`). */
export type TargetProblem = Extract<NameWith, `target_${string}`>

/**
 * Why a request target cannot be forwarded, or undefined when it can. Only the
 * origin form (`/path?query`) is forwarded: an absolute-form target
 * (`http://host/path`) would let the client choose the upstream's idea of the
 * host. A `.` or `..` segment, plain or percent-encoded (`%2e`, with `/`, `\\`,
 * `%2f`, `%5c` as separators, and `;params` after it as Java servers read them),
 * could be resolved by the upstream to a path outside the route's prefix.
 */
export function targetProblem(url: string): TargetProblem | undefined {
  if (url[0] !== '/') return 'target_not_origin_form'
  if (url.includes('#')) return 'target_fragment'
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  if (DOT_SEGMENT.test(path)) return 'target_dot_segment'
  return undefined
}

const SEP = '(?:\\/|\\\\|%2f|%5c)'
const DOT_SEGMENT = new RegExp(`(?:^|${SEP})(?:\\.|%2e){1,2}(?:;[^/\\\\]*)?(?:${SEP}|$)`, 'i')
