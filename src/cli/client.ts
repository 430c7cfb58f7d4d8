/**
 * The CLI's HTTP client: one base URL, the credential each call needs
 * (`X-API-Key` or `Authorization: Bearer`), a deadline per request, and every
 * failure turned into a CliError with its exit code and a sentence a person
 * can act on ("cannot reach …", "the server refused the API key …"), with the
 * server's own error message (`{"success": false, "error", "code"}`).
 * Credentials are never part of a message.
 */
import { STATUS_CODES } from 'node:http'
import { request } from 'undici'
import { CliError, EXIT, type ExitCode } from './exit.js'
import type { Connection } from './options.js'

/** Which credential a route takes. */
export type Credential = 'key' | 'token' | 'none'

export interface CallOptions {
  method?: 'GET' | 'POST' | 'DELETE'
  body?: unknown
  auth?: Credential
  signal?: AbortSignal
}

/** An answer whose body is still to be read. */
export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: AsyncIterable<Buffer> & { text(): Promise<string>; dump(): Promise<void> }
}

/** Error bodies are short; anything longer is not one of ours. */
const MAX_SHOWN_BODY = 200

const header = (a: Answer, name: string) => {
  const v = a.headers[name]
  return Array.isArray(v) ? v[0] : v
}

/*
 * undici's request rather than fetch: fetch refuses the "bad ports" of the
 * Fetch standard (9, 6000, 6665…), and a gateway may well listen on one.
 */
export class Client {
  constructor(readonly conn: Connection) {}

  /** `ws://…/path` on the same server. */
  wsUrl(path: string): string {
    return `${this.conn.url.replace(/^http/, 'ws')}${path}`
  }

  /** A JSON call: the parsed answer of a 2xx, else a CliError. */
  async json<T>(path: string, options: CallOptions = {}): Promise<T> {
    const deadline = AbortSignal.timeout(this.conn.timeoutMs)
    const signal = options.signal ? AbortSignal.any([deadline, options.signal]) : deadline
    const res = await this.send(path, options, signal)
    let text: string
    try {
      text = await res.body.text()
    } catch (err) {
      throw this.failure(err, options.signal, signal)
    }
    if (res.status < 200 || res.status >= 300) throw httpError(res, text, options.auth ?? 'none', this.conn)
    try {
      return JSON.parse(text) as T
    } catch {
      throw new CliError(EXIT.failed, `${this.conn.url} answered ${res.status} without JSON: is it a roomgate?`)
    }
  }

  /**
   * A streaming call (SSE): the deadline covers the answer's headers only;
   * `signal` ends the stream. Resolves with a 2xx answer whose body is still to be read.
   */
  async stream(path: string, options: CallOptions & { accept: string }): Promise<Answer> {
    const res = await this.send(path, options, options.signal, options.accept, this.conn.timeoutMs)
    if (res.status < 200 || res.status >= 300) {
      const text = await res.body.text().catch(() => '')
      throw httpError(res, text, options.auth ?? 'none', this.conn)
    }
    return res
  }

  private async send(path: string, options: CallOptions, signal: AbortSignal | undefined, accept = 'application/json', headersTimeout?: number): Promise<Answer> {
    const headers: Record<string, string> = { accept, ...this.credentials(options.auth ?? 'none') }
    if (options.body !== undefined) headers['content-type'] = 'application/json'
    let res: Answer
    try {
      // undici follows no redirect by default: one would take the credentials elsewhere.
      const answer = await request(`${this.conn.url}${path}`, {
        method: options.method ?? 'GET',
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal,
        ...(headersTimeout === undefined ? {} : { headersTimeout, bodyTimeout: 0 }),
      })
      res = { status: answer.statusCode, headers: answer.headers, body: answer.body }
    } catch (err) {
      throw this.failure(err, options.signal, signal)
    }
    if (res.status >= 300 && res.status < 400) {
      await res.body.dump().catch(() => undefined)
      const to = header(res, 'location')
      throw new CliError(EXIT.failed, `${this.conn.url} redirects (${res.status})${to ? ` to ${to.split('?')[0]}` : ''}: give that address as --url`)
    }
    return res
  }

  credentials(auth: Credential): Record<string, string> {
    if (auth === 'key' && this.conn.key !== undefined) return { 'x-api-key': this.conn.key }
    if (auth === 'token' && this.conn.token !== undefined) return { authorization: `Bearer ${this.conn.token}` }
    return {}
  }

  /**
   * A request that got no HTTP answer: unreachable, unless the caller itself
   * gave up (the error passes through). `signal` aborted otherwise: the deadline.
   */
  private failure(err: unknown, callerSignal: AbortSignal | undefined, signal: AbortSignal | undefined): unknown {
    if (callerSignal?.aborted) return err
    if (signal?.aborted) return unreachable(this.conn.url, new DOMException('timed out', 'TimeoutError'), this.conn.timeoutMs)
    return unreachable(this.conn.url, err, this.conn.timeoutMs)
  }
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
  UND_ERR_BODY_TIMEOUT: 'no answer in time',
  UND_ERR_CLOSED: 'connection closed by the server',
}

function codeOf(err: unknown): string | undefined {
  let e = err as { code?: unknown; cause?: unknown; errors?: unknown[] } | undefined
  for (let depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === 'string') return e.code
    // Happy eyeballs (localhost → ::1 and 127.0.0.1): every attempt failed.
    if (Array.isArray(e.errors) && e.errors.length > 0) e = e.errors[0] as typeof e
    else e = e.cause as typeof e
  }
  return undefined
}

function deepestMessage(err: unknown): string {
  let e = err as { message?: unknown; cause?: unknown } | undefined
  let message = 'no answer'
  for (let depth = 0; e && depth < 4; depth++) {
    if (typeof e.message === 'string' && e.message && e.message !== 'fetch failed') message = e.message
    e = e.cause as typeof e
  }
  return message
}

/** Exit 3 with the reason: "cannot reach http://127.0.0.1:9 (connection refused)". */
export function unreachable(url: string, err: unknown, timeoutMs: number): CliError {
  const name = (err as { name?: unknown } | null)?.name
  let reason: string
  if (name === 'TimeoutError') reason = `no answer within ${timeoutMs / 1000} s`
  else {
    const code = codeOf(err)
    reason = code !== undefined ? (REASONS[code] ?? (/CERT|TLS|SSL/.test(code) ? `TLS: ${deepestMessage(err)}` : code)) : deepestMessage(err)
  }
  return new CliError(EXIT.unreachable, `cannot reach ${url} (${reason})`)
}

interface ErrorFields {
  message: string | undefined
  code: string | undefined
}

/** The message and code of roomgate's error body, or of the shapes other services use. */
function errorFields(text: string): ErrorFields {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    const plain = text.replace(/\s+/g, ' ').trim()
    return { message: plain && !plain.startsWith('<') ? plain.slice(0, MAX_SHOWN_BODY) : undefined, code: undefined }
  }
  if (typeof body !== 'object' || body === null) return { message: undefined, code: undefined }
  const b = body as { error?: unknown; message?: unknown; code?: unknown; detail?: unknown }
  const nested = typeof b.error === 'object' && b.error !== null ? (b.error as { message?: unknown; code?: unknown }) : undefined
  const message = [b.error, b.message, nested?.message, b.detail].find((m): m is string => typeof m === 'string')
  const code = [b.code, nested?.code].find((c): c is string => typeof c === 'string')
  return { message: message?.slice(0, MAX_SHOWN_BODY), code }
}

function exitFor(status: number): ExitCode {
  if (status === 401 || status === 403) return EXIT.unauthorized
  if (status === 404) return EXIT.notFound
  if (status === 400) return EXIT.usage
  return EXIT.failed
}

function refusedWhat(auth: Credential, conn: Connection): string {
  if (auth === 'key') return conn.key === undefined ? 'the server wants an API key (--key or ROOMGATE_API_KEY)' : 'the server refused the API key'
  if (auth === 'token') return conn.token === undefined ? 'the server wants a bearer token (--token or ROOMGATE_TOKEN)' : 'the server refused the token'
  return 'the server refused the request'
}

/** A non-2xx answer, with what a caller may act on (a 429's Retry-After). */
export class HttpError extends CliError {
  constructor(
    exitCode: ExitCode,
    message: string,
    readonly status: number,
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(exitCode, message)
  }
}

/** A non-2xx answer as a CliError: "the server refused the API key (401 unauthorized): Invalid or missing API key". */
export function httpError(res: Answer, text: string, auth: Credential, conn: Connection): HttpError {
  const { message, code } = errorFields(text)
  const label = `${res.status} ${code ?? (STATUS_CODES[res.status] ?? 'error').toLowerCase()}`
  const detail = message ? `: ${message}` : ''
  const retryHeader = header(res, 'retry-after')
  const retry = res.status === 429 && retryHeader ? ` (retry in ${retryHeader} s)` : ''
  const sentence =
    res.status === 401 || res.status === 403
      ? `${refusedWhat(auth, conn)} (${label})${detail}`
      : `the server answered ${label}${detail}${retry}`
  const retryAfter = Number(retryHeader ?? NaN)
  return new HttpError(exitFor(res.status), sentence, res.status, Number.isFinite(retryAfter) ? retryAfter : undefined)
}
