/**
 * One timed request for a check: a deadline that covers connecting and the
 * answer's headers, a latency measured to those headers (the round trip a
 * client would feel, not the body's size), the body thrown away, and failures
 * turned into short messages that are safe to show clients.
 */
import { request, type Dispatcher } from 'undici'

export interface ProbeRequest {
  url: string
  method: 'HEAD' | 'GET'
  headers: Record<string, string>
  timeoutMs: number
  dispatcher: Dispatcher
  /** Aborts when the monitor closes. */
  signal: AbortSignal
}

export interface ProbeAnswer {
  statusCode: number
  headers: Record<string, string | string[] | undefined>
  /** Whole ms. */
  latency: number
}

/** A probe failure whose message is safe for clients. */
export class ProbeError extends Error {
  override name = 'ProbeError'
}

const NETWORK_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  UND_ERR_SOCKET: 'connection closed before an answer',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (DNS)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
}

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null
  const code = e?.code ?? e?.cause?.code
  return typeof code === 'string' ? code : undefined
}

export async function probe(o: ProbeRequest): Promise<ProbeAnswer> {
  const timeout = AbortSignal.timeout(o.timeoutMs)
  const started = performance.now()
  let res: Dispatcher.ResponseData
  try {
    res = await request(o.url, {
      method: o.method,
      headers: o.headers,
      dispatcher: o.dispatcher,
      signal: AbortSignal.any([timeout, o.signal]),
    })
  } catch (err) {
    throw new ProbeError(describeFailure(err, timeout, o))
  }
  const latency = Math.round(performance.now() - started)
  // The answer is in; its body (an error document, a page) only costs time.
  await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined)
  return { statusCode: res.statusCode, headers: res.headers, latency }
}

function describeFailure(err: unknown, timeout: AbortSignal, o: ProbeRequest): string {
  const code = errorCode(err)
  if (timeout.aborted || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') {
    return `timed out after ${o.timeoutMs} ms`
  }
  if (o.signal.aborted) return 'cancelled'
  if (code && NETWORK_ERRORS[code]) return NETWORK_ERRORS[code]
  if (code && /CERT|SSL|TLS/.test(code)) return `TLS error (${code})`
  return code ? `request failed (${code})` : 'request failed'
}
