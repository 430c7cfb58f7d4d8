/**
 * pino, with every place a credential can appear redacted. Log lines must help
 * at 3 a.m. and must never carry a secret.
 */
import { pino, type Logger } from 'pino'

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["x-internal-token"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["x-internal-token"]',
  '*.password',
  '*.token',
  '*.apiKey',
  '*.internalToken',
]

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'roomgate' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? process.stdout,
  )
}

/** A URL for a log line or a client: user, password and query removed (a query may carry a token). */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url)
    u.username = ''
    u.password = ''
    const query = u.search ? '?…' : ''
    u.search = ''
    u.hash = ''
    return u.toString() + query
  } catch {
    return '[invalid url]'
  }
}

export type { Logger }

/**
 * A failure that repeats (a store, a bus, a loop) is logged once when it
 * starts (warn) and once when it ends (info), not on every attempt between.
 */
export class OutageLog {
  private down = false

  constructor(
    private readonly log: Logger,
    private readonly failed: string,
    private readonly recovered: string,
    private readonly fields: Record<string, unknown> = {},
  ) {}

  ok(): void {
    if (this.down) this.log.info(this.fields, this.recovered)
    this.down = false
  }

  fail(err: unknown): void {
    if (!this.down) this.log.warn({ ...this.fields, err: (err as Error).message }, this.failed)
    this.down = true
  }
}
