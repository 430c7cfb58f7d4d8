/**
 * The keys at `auth.devices.jwksUrl` (issue 13), cached. Read in `start()`,
 * again every `refreshMs` in the background (so a key withdrawn at the
 * endpoint stops working), and on demand when a token names a key the cache
 * lacks (so a key published there is accepted without a restart) — that at
 * most once per `minRefetchMs`, however many tokens ask: a stream of made-up
 * `kid`s must not turn into a stream of requests to the identity provider.
 *
 * Every read has one deadline (`timeoutMs`) for connect, headers and body,
 * and a size cap. A failed read keeps the keys already cached: while the
 * endpoint is down or hangs, known keys keep working and an unknown one is
 * refused once the read gives up. Redirects are not followed.
 */
import { createLocalJWKSet, errors, type CryptoKey, type JSONWebKeySet, type JWSHeaderParameters, type LocalJWKSet } from 'jose'
import { request } from 'undici'
import { OutageLog, safeUrl, type Logger } from '../log.js'
import type { CounterChild, Registry } from '../metrics/registry.js'

/** A key set is a few kB; this is far above any real one and bounds what a broken endpoint can make us hold. */
export const MAX_JWKS_BYTES = 1024 * 1024
/** Of an error answer, at most this much is read (and thrown away). */
const ERROR_BODY_DRAIN_BYTES = 64 * 1024

export interface JwksOptions {
  url: string
  timeoutMs: number
  minRefetchMs: number
  refreshMs: number
  log: Logger
  registry: Registry
  /** A monotonic clock in ms, for the refetch window (tests move it). @defaultValue `performance.now` */
  now?: () => number
}

type FetchOutcome = 'ok' | 'error' | 'timeout'

/** One failed read; the message names no secret (the URL is logged apart, without its query). */
class JwksFetchError extends Error {
  constructor(
    message: string,
    readonly outcome: FetchOutcome = 'error',
  ) {
    super(message)
  }
}

export class JwksCache {
  private set: LocalJWKSet | undefined
  /** Bumped by every successful read: a caller can tell whether a refetch brought anything. */
  private version = 0
  private kids = ''
  private inflight: Promise<void> | undefined
  private lastAttemptAt = -Infinity
  private timer: NodeJS.Timeout | undefined
  private started = false
  private closed = false
  private readonly closing = new AbortController()
  private readonly outage: OutageLog
  private readonly fetches: Record<FetchOutcome, CounterChild>
  private readonly now: () => number
  private readonly where: string

  constructor(private readonly o: JwksOptions) {
    this.now = o.now ?? (() => performance.now())
    this.where = safeUrl(o.url)
    this.outage = new OutageLog(o.log, 'JWKS cannot be read: cached keys stay in use', 'JWKS readable again', { jwksUrl: this.where })
    const counter = o.registry.counter('roomgate_jwks_fetches_total', 'Reads of auth.devices.jwksUrl, by outcome (ok, error, timeout).', [
      'outcome',
    ])
    this.fetches = { ok: counter.child('ok'), error: counter.child('error'), timeout: counter.child('timeout') }
  }

  /** The first read; a failure is logged, not thrown (the keys may come later). */
  async start(): Promise<void> {
    if (this.started || this.closed) return
    this.started = true
    await this.fetch()
    this.schedule()
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.timer)
    this.closing.abort()
  }

  /**
   * The cached keys that match the token's header (`kid`, `alg`); when none
   * does, the endpoint is read again if the refetch window allows (or a read
   * already under way is awaited) and the new set asked. Empty: no such key.
   */
  async keysFor(header: JWSHeaderParameters): Promise<CryptoKey[]> {
    const seen = this.version
    const found = await this.lookup(header)
    if (found.length > 0) return found
    await this.refetch()
    return this.version === seen ? [] : this.lookup(header)
  }

  private refetch(): Promise<void> {
    if (this.inflight) return this.inflight
    if (this.closed || this.now() - this.lastAttemptAt < this.o.minRefetchMs) return Promise.resolve()
    return this.fetch()
  }

  private async lookup(header: JWSHeaderParameters): Promise<CryptoKey[]> {
    if (!this.set) return []
    try {
      return [await this.set(header)]
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey) return []
      // Several keys fit (no kid, or a kid used twice): each is tried.
      if (err instanceof errors.JWKSMultipleMatchingKeys) {
        const keys: CryptoKey[] = []
        for await (const key of err) keys.push(key)
        return keys
      }
      throw err
    }
  }

  /** Starts a read (callers share it); never rejects. */
  private fetch(): Promise<void> {
    this.lastAttemptAt = this.now()
    const run = this.readOnce()
      .then((set) => this.accept(set))
      .catch((err: unknown) => {
        if (this.closed) return
        const e = err instanceof JwksFetchError ? err : new JwksFetchError(describe(err))
        this.fetches[e.outcome].inc()
        this.outage.fail(e)
      })
      .finally(() => {
        if (this.inflight === run) this.inflight = undefined
      })
    this.inflight = run
    return run
  }

  private accept(set: LocalJWKSet): void {
    if (this.closed) return
    this.set = set
    this.version++
    this.fetches.ok.inc()
    this.outage.ok()
    const kids = set
      .jwks()
      .keys.map((k) => k.kid ?? '(no kid)')
      .join(', ')
    if (kids !== this.kids) this.o.log.info({ jwksUrl: this.where, kids }, 'JWKS keys loaded')
    this.kids = kids
  }

  private schedule(): void {
    if (this.closed) return
    this.timer = setTimeout(() => {
      void (this.inflight ?? this.fetch()).then(() => this.schedule())
    }, this.o.refreshMs)
    this.timer.unref()
  }

  private async readOnce(): Promise<LocalJWKSet> {
    const { timeoutMs } = this.o
    const deadline = AbortSignal.timeout(timeoutMs)
    const signal = AbortSignal.any([deadline, this.closing.signal])
    const timedOut = () => new JwksFetchError(`no complete answer within ${timeoutMs} ms`, 'timeout')
    let res
    try {
      res = await request(this.o.url, {
        method: 'GET',
        headers: { accept: 'application/jwk-set+json, application/json' },
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      })
    } catch (err) {
      throw deadline.aborted || isTimeout(err) ? timedOut() : new JwksFetchError(describe(err))
    }
    const { statusCode, body } = res
    if (statusCode < 200 || statusCode > 299) {
      // Read (a little) and drop, so the connection can be reused; a bare destroy() would emit an unhandled error.
      await body.dump({ limit: ERROR_BODY_DRAIN_BYTES }).catch(() => undefined)
      throw new JwksFetchError(`answered ${statusCode}${statusCode >= 300 && statusCode < 400 ? ' (redirects are not followed)' : ''}`)
    }
    const chunks: Buffer[] = []
    let size = 0
    try {
      for await (const chunk of body) {
        size += (chunk as Buffer).length
        // Leaving the loop destroys the body.
        if (size > MAX_JWKS_BYTES) {
          throw new JwksFetchError(`answer is larger than ${MAX_JWKS_BYTES} bytes`)
        }
        chunks.push(chunk as Buffer)
      }
    } catch (err) {
      if (err instanceof JwksFetchError) throw err
      throw deadline.aborted || isTimeout(err) ? timedOut() : new JwksFetchError(describe(err))
    }
    let data: unknown
    try {
      data = JSON.parse(Buffer.concat(chunks, size).toString('utf8').replace(/^\uFEFF/, ''))
    } catch {
      throw new JwksFetchError('answer is not valid JSON')
    }
    if (typeof data !== 'object' || data === null || !Array.isArray((data as { keys?: unknown }).keys)) {
      throw new JwksFetchError('answer is not a JWK set ({"keys": [...]})')
    }
    try {
      // Checks the shape of every member; each key is imported (and refused if private or unusable) when first used.
      return createLocalJWKSet(data as JSONWebKeySet)
    } catch {
      throw new JwksFetchError('answer is not a valid JWK set')
    }
  }
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null
  const code = e?.code ?? e?.cause?.code
  return typeof code === 'string' ? code : undefined
}

function isTimeout(err: unknown): boolean {
  return TIMEOUT_CODES.has(errorCode(err) ?? '')
}

/** A network failure in a few words: its code, not a message that could quote the URL. */
function describe(err: unknown): string {
  const code = errorCode(err)
  return code ? `request failed (${code})` : 'request failed'
}
