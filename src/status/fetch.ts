/**
 * One read of a client's status API (seed 004's `_fetch_from_client`): GET
 * the source's URL with its credentials, retry a failed attempt
 * `retryCount` times (1 s x attempt apart, as the seed), map the answer.
 *
 * An attempt fails on a network error, its deadline (`timeoutSeconds` for the
 * whole attempt, body included), any status but 2xx, a body over 10 MB
 * (reading stops there), or an answer that is not JSON or holds no unit list
 * (the seed would then have shown no units at all; a failure keeps the last
 * good statuses instead). Redirects are not followed: the credentials must
 * not travel to a host nobody configured.
 *
 * The final failure is a `StatusFetchError` whose message may be shown to a
 * client: the URL without user, password or query, and no secret (every form
 * of the source's secret is scrubbed from whatever undici said).
 */
import { setTimeout as delay } from 'node:timers/promises'
import { request, type Dispatcher } from 'undici'
import type { StatusSourceConfig } from '../config/status-schema.js'
import { safeUrl } from '../log.js'
import { authHeaders, redact, secretsOf, StatusCredentialError } from './credentials.js'
import { mapStatuses, unitList } from './mapping.js'

export const MAX_STATUS_ANSWER_BYTES = 10 * 1024 * 1024
/** The seed's backoff: 1 s after the first failure, 2 s after the second, … */
export const RETRY_BACKOFF_MS = 1_000
/** Of an error answer, at most this much is read (and thrown away) so the connection can be reused. */
const ERROR_BODY_DRAIN_BYTES = 64 * 1024

export interface FetchStatusesOptions {
  source: StatusSourceConfig
  env: NodeJS.ProcessEnv
  /** Default: undici's global dispatcher. */
  dispatcher?: Dispatcher
  /** Aborting stops the read at once, between attempts too. */
  signal?: AbortSignal
  /** Waits between attempts (tests shorten it); the `signal` still interrupts it. */
  sleep?: (ms: number) => Promise<void>
}

export interface FetchedStatuses {
  /** Unit id -> standard status (null prototype). */
  statuses: Record<string, string>
  /** Distinct units in `statuses`. */
  units: number
  /** Units of the answer left out (see mapping.ts). */
  skipped: number
  /** Attempts made, the successful one included. */
  attempts: number
  /** Whole ms from the first attempt to the mapped answer, pauses included. */
  ms: number
}

/** The client API could not be read. The message is safe for clients and logs. */
export class StatusFetchError extends Error {
  override name = 'StatusFetchError'
  constructor(
    message: string,
    /** Attempts made (0: the credentials could not be had). */
    readonly attempts: number,
    /** True when the caller's signal stopped it. */
    readonly cancelled: boolean,
    /** Status of the last answer, when there was one. */
    readonly statusCode?: number,
  ) {
    super(message)
  }
}

/** One failed attempt; its message is already client-safe except for scrubbing. */
class AttemptError extends Error {
  constructor(
    message: string,
    readonly statusCode?: number,
  ) {
    super(message)
  }
}

const NETWORK_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  UND_ERR_SOCKET: 'connection closed before the answer ended',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (DNS)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
}
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

export async function fetchStatuses(o: FetchStatusesOptions): Promise<FetchedStatuses> {
  const { source, signal } = o
  const started = performance.now()
  const secrets = secretsOf(source, o.env)
  const where = `status source ${source.slug} (${safeUrl(source.url)})`
  const fail = (message: string, attempts: number, cancelled = false, statusCode?: number) =>
    new StatusFetchError(redact(`${where}: ${message}`, secrets), attempts, cancelled, statusCode)

  let headers: Record<string, string>
  try {
    headers = { accept: 'application/json', ...authHeaders(source, o.env) }
  } catch (err) {
    if (err instanceof StatusCredentialError) throw fail(`credentials unavailable (${err.message})`, 0)
    throw err
  }

  const attempts = source.retryCount + 1
  const timeoutMs = Math.max(1, Math.round(source.timeoutSeconds * 1000))
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw fail('cancelled', attempt - 1, true)
    try {
      const data = await attemptOnce(source.url, headers, timeoutMs, o.dispatcher, signal)
      const { statuses, skipped } = mapStatuses(data, source.mapping ?? {})
      const units = Object.keys(statuses).length
      return { statuses, units, skipped, attempts: attempt, ms: Math.round(performance.now() - started) }
    } catch (err) {
      if (signal?.aborted) throw fail('cancelled', attempt, true)
      const e = err instanceof AttemptError ? err : new AttemptError(describeFailure(err, undefined, timeoutMs))
      if (attempt >= attempts) {
        const message = attempts > 1 ? `${attempts} attempts failed, the last: ${e.message}` : e.message
        throw fail(message, attempt, false, e.statusCode)
      }
    }
    try {
      await pause(RETRY_BACKOFF_MS * attempt, o.sleep, signal)
    } catch {
      throw fail('cancelled', attempt, true)
    }
  }
}

async function attemptOnce(
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
  dispatcher: Dispatcher | undefined,
  outer: AbortSignal | undefined,
): Promise<unknown> {
  const timeout = AbortSignal.timeout(timeoutMs)
  const signal = outer ? AbortSignal.any([timeout, outer]) : timeout
  let res: Dispatcher.ResponseData
  try {
    res = await request(url, {
      method: 'GET',
      headers,
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(dispatcher ? { dispatcher } : {}),
    })
  } catch (err) {
    throw new AttemptError(describeFailure(err, timeout, timeoutMs))
  }
  const { statusCode, body } = res
  if (statusCode < 200 || statusCode > 299) {
    await body.dump({ limit: ERROR_BODY_DRAIN_BYTES }).catch(() => undefined)
    const note = statusCode >= 300 && statusCode < 400 ? ' (redirects are not followed)' : ''
    throw new AttemptError(`answered ${statusCode}${note}`, statusCode)
  }
  const declared = Number(res.headers['content-length'])
  if (declared > MAX_STATUS_ANSWER_BYTES) {
    body.destroy()
    throw new AttemptError(`answer is larger than ${MAX_STATUS_ANSWER_BYTES} bytes`)
  }
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of body) {
      size += (chunk as Buffer).length
      if (size > MAX_STATUS_ANSWER_BYTES) {
        body.destroy()
        throw new AttemptError(`answer is larger than ${MAX_STATUS_ANSWER_BYTES} bytes`)
      }
      chunks.push(chunk as Buffer)
    }
  } catch (err) {
    if (err instanceof AttemptError) throw err
    throw new AttemptError(describeFailure(err, timeout, timeoutMs))
  }
  let data: unknown
  try {
    // A BOM is legal in front of JSON from some servers; JSON.parse refuses it.
    data = JSON.parse(Buffer.concat(chunks, size).toString('utf8').replace(/^\uFEFF/, ''))
  } catch {
    // The parser's message quotes the body, which may echo anything: not shown.
    throw new AttemptError('answer is not valid JSON')
  }
  if (!unitList(data)) throw new AttemptError('answer holds no unit list (a list, or an object with "units" or "data")')
  return data
}

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null
  const code = e?.code ?? e?.cause?.code
  return typeof code === 'string' ? code : undefined
}

function describeFailure(err: unknown, timeout: AbortSignal | undefined, timeoutMs: number): string {
  const code = errorCode(err)
  if (timeout?.aborted || (code && TIMEOUT_CODES.has(code))) return `timed out after ${timeoutMs} ms`
  if (code && NETWORK_ERRORS[code]) return NETWORK_ERRORS[code]
  if (code && /CERT|SSL|TLS/.test(code)) return `TLS error (${code})`
  // Anything else: undici's own words, cut short (and scrubbed of secrets by the caller).
  const message = err instanceof Error ? err.message.slice(0, 200) : ''
  return `request failed${code ? ` (${code})` : ''}${message ? `: ${message}` : ''}`
}

/** Waits `ms`, or rejects as soon as `signal` aborts. */
function pause(ms: number, sleep: ((ms: number) => Promise<void>) | undefined, signal: AbortSignal | undefined): Promise<void> {
  if (!sleep) return delay(ms, undefined, signal ? { signal } : {})
  if (!signal) return sleep(ms)
  if (signal.aborted) return Promise.reject(signal.reason as Error)
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error)
    signal.addEventListener('abort', onAbort, { once: true })
    sleep(ms).then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort)).catch(() => undefined)
  })
}
