/**
 * Header rules of the proxy. Hop-by-hop headers (RFC 9110 §7.6.1, plus any
 * named in `Connection`) never cross it. `X-Forwarded-*` is written by roomgate
 * from what it saw on the socket; a client's own values are dropped unless
 * `trustProxy` says the peer is our own load balancer.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'

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

/** Request headers that roomgate rewrites or that undici must not see. */
const REQUEST_DROPPED = new Set([
  ...HOP_BY_HOP,
  'host',
  // Node's server already answered `100 Continue`; undici does not take `expect`.
  'expect',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'forwarded',
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

export interface ForwardedFor {
  /** Address of the peer on the socket. */
  remoteAddress: string
  /** True when the request came over TLS to roomgate. */
  encrypted: boolean
  trustProxy: boolean
}

/** Flat `[name, value, ...]` list for undici, case and order preserved. */
export function requestHeaders(req: IncomingMessage, upstreamHost: string, fwd: ForwardedFor): string[] {
  const raw = req.rawHeaders
  const extra = connectionTokens(req.headers.connection)
  const out: string[] = []
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    const lower = name.toLowerCase()
    if (REQUEST_DROPPED.has(lower) || extra?.has(lower)) continue
    out.push(name, raw[i + 1]!)
  }
  const h = req.headers
  const priorFor = fwd.trustProxy ? headerText(h['x-forwarded-for']) : undefined
  const proto = (fwd.trustProxy && firstToken(h['x-forwarded-proto'])) || (fwd.encrypted ? 'https' : 'http')
  const host = (fwd.trustProxy && firstToken(h['x-forwarded-host'])) || h.host
  out.push('host', upstreamHost)
  out.push('x-forwarded-for', priorFor ? `${priorFor}, ${fwd.remoteAddress}` : fwd.remoteAddress)
  out.push('x-forwarded-proto', proto)
  if (host) out.push('x-forwarded-host', host)
  return out
}

/** The upstream's response headers without hop-by-hop ones (the object is modified). */
export function responseHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const extra = connectionTokens(headers.connection)
  for (const name of HOP_BY_HOP) delete headers[name]
  if (extra) for (const name of extra) delete headers[name]
  return headers
}

function headerText(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v
}

function firstToken(v: string | string[] | undefined): string | undefined {
  return headerText(v)?.split(',')[0]?.trim() || undefined
}

/**
 * True when a request path holds a `.` or `..` segment, plain or percent-encoded
 * (`%2e`, with `%2f`/`%5c`/`\\` as separators). Forwarded unchanged, such a path
 * could be resolved by the upstream to a place outside the route's prefix.
 */
export function hasDotSegment(url: string): boolean {
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  return DOT_SEGMENT.test(path)
}

const DOT_SEGMENT = /(?:^|\/|\\|%2f|%5c)(?:\.|%2e){1,2}(?:\/|\\|%2f|%5c|$)/i
