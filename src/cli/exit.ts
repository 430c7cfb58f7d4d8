/**
 * The CLI's exit codes, one meaning each, so scripts can branch on them, and
 * the error that carries one up to `main` (which prints its message once).
 */
export const EXIT = {
  ok: 0,
  /** The operation failed: a job ended failed or cancelled under --watch, a 5xx, a refused request (409, 429…). */
  failed: 1,
  /** Bad usage, a bad config file, or a request the server rejected as malformed (400). */
  usage: 2,
  /** The server cannot be reached: connection refused, DNS, TLS, timeout. */
  unreachable: 3,
  /** 401 or 403: the key or token was refused (or is missing). */
  unauthorized: 4,
  /** 404: unknown job id, slug or room. */
  notFound: 5,
  /** --watch stopped by Ctrl-C or SIGTERM before the job ended (the job goes on): 128 + SIGINT. */
  interrupted: 130,
} as const

export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

export class CliError extends Error {
  override name = 'CliError'
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message)
  }
}

/** Bad usage: the message is followed by a pointer to --help. */
export class UsageError extends CliError {
  override name = 'UsageError'
  constructor(message: string) {
    super(EXIT.usage, message)
  }
}

export const usageError = (message: string) => new UsageError(message)

/**
 * Aborts on the first SIGINT or SIGTERM while a long command runs (--watch,
 * --follow), so it can end cleanly; `dispose` puts the default behaviour back.
 */
export function interruption(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController()
  const stop = () => controller.abort(new Error('interrupted'))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
    },
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}
