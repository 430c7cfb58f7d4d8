/**
 * pino, with every place a credential can appear redacted. Log lines must help
 * at 3 a.m. and must never carry a secret.
 */
import { pino, type Logger } from 'pino'
import { PinoPretty } from 'pino-pretty'

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

/** `auto`: human lines on a terminal, JSON otherwise (a log collector's input). */
export type LogFormat = 'auto' | 'pretty' | 'json'

export interface LoggerOptions {
  /** @defaultValue 'json' */
  format?: LogFormat
  /** @defaultValue process.stdout */
  destination?: NodeJS.WritableStream
}

/** The logger a config asks for (`logLevel`, `log.format`), on stdout. */
export function loggerOf(config: { logLevel: string; log: { format: LogFormat } }): Logger {
  return createLogger(config.logLevel, { format: config.log.format })
}

export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? process.stdout
  const tty = (destination as { isTTY?: boolean }).isTTY === true
  const format = options.format ?? 'json'
  const pretty = format === 'pretty' || (format === 'auto' && tty)
  return pino(
    {
      level,
      base: { service: 'roomgate' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    // Formatted in this thread and written synchronously (no transport worker): the last lines before an exit are never lost.
    pretty ? PinoPretty({ destination, sync: true, colorize: tty, ignore: 'pid,hostname,service', translateTime: 'SYS:HH:MM:ss.l' }) : destination,
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
