/**
 * Maps a failed upstream call to the registry's codes, the same way for the
 * HTTP proxy and the event router: a timeout is `upstream_timeout` (504), a
 * service that cannot be reached is `upstream_unavailable` (502), anything
 * else that breaks the exchange is `upstream_error` (502).
 */
import { RoomgateError } from '../errors.js'

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'])
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
])

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown }; name?: unknown }
  if (typeof e?.code === 'string') return e.code
  if (typeof e?.cause?.code === 'string') return e.cause.code
  if (e?.name === 'TimeoutError') return 'ETIMEDOUT'
  return undefined
}

export function upstreamFailure(service: string, err: unknown): RoomgateError {
  const code = errorCode(err)
  if (code && TIMEOUT_CODES.has(code)) {
    return new RoomgateError('service_timeout', { service }, { cause: err })
  }
  if (code && UNREACHABLE_CODES.has(code)) {
    return new RoomgateError('service_unavailable', { service }, { cause: err })
  }
  return new RoomgateError('service_broke', { service }, { cause: err })
}
