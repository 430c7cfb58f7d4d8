/**
 * A plain HTTP check: GET the URL, healthy on the expected status (any 2xx or
 * 3xx when none is configured; redirects are not followed, a 302 to a login
 * page still means the service answers). Credentials in the URL are sent as
 * Basic auth and never shown.
 */
import type { Dispatcher } from 'undici'
import { safeUrl } from '../log.js'
import { probe, ProbeError } from './probe.js'
import type { Check, CheckResult } from './types.js'

export interface HttpCheckOptions {
  name: string
  url: string
  expectStatus?: number | undefined
  timeoutMs: number
  dispatcher: Dispatcher
}

export class HttpCheck implements Check {
  readonly kind = 'http'
  readonly name: string
  readonly target: string
  private readonly url: string
  private readonly headers: Record<string, string> = { accept: '*/*', 'user-agent': 'roomgate-health' }

  constructor(private readonly o: HttpCheckOptions) {
    this.name = o.name
    const url = new URL(o.url)
    if (url.username || url.password) {
      const user = decodeOr(url.username)
      const password = decodeOr(url.password)
      this.headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
      url.username = ''
      url.password = ''
    }
    this.url = url.toString()
    this.target = safeUrl(this.url)
  }

  async run(signal: AbortSignal): Promise<CheckResult> {
    try {
      const { statusCode, latency } = await probe({
        url: this.url,
        method: 'GET',
        headers: this.headers,
        timeoutMs: this.o.timeoutMs,
        dispatcher: this.o.dispatcher,
        signal,
      })
      const expected = this.o.expectStatus
      const ok = expected === undefined ? statusCode >= 200 && statusCode < 400 : statusCode === expected
      const error = ok ? null : expected === undefined ? `answered ${statusCode}` : `answered ${statusCode}, expected ${expected}`
      return { ok, latency, error }
    } catch (err) {
      return { ok: false, latency: null, error: err instanceof ProbeError ? err.message : 'request failed' }
    }
  }
}

/** Percent-decoded, or as written when it is not valid percent-encoding (a bare `%` in a password). */
function decodeOr(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}
