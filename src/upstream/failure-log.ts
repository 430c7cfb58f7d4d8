/**
 * Upstream failures, logged so they help without flooding: the first failure
 * of each (service, kind, code) in a window is logged with its cause, the
 * rest are counted and reported with the next line.
 */
import { ERRORS, RoomgateError } from '../errors.js'
import type { Logger } from '../log.js'

export const FAILURE_LOG_WINDOW_MS = 5_000

export class FailureLog {
  private readonly windows = new Map<string, { until: number; suppressed: number }>()

  constructor(
    private readonly log: Logger,
    private readonly windowMs = FAILURE_LOG_WINDOW_MS,
  ) {}

  report(service: string, kind: 'event' | 'proxy', err: unknown): void {
    // A service's own 4xx answers are the client's business, not an operator's.
    if (err instanceof RoomgateError && err.status < 500) return
    // Codes a service made up share one window, so the map stays small whatever they send.
    const raw = err instanceof RoomgateError ? err.code : 'internal_error'
    const code = Object.hasOwn(ERRORS, raw) ? raw : 'service_code'
    const key = `${service}\u0000${kind}\u0000${code}`
    const now = Date.now()
    const w = this.windows.get(key)
    if (w && now < w.until) {
      w.suppressed++
      return
    }
    this.windows.set(key, { until: now + this.windowMs, suppressed: 0 })
    const cause = (err as { cause?: { code?: string; message?: string } }).cause
    this.log.warn(
      { service, kind, code, cause: cause?.code ?? cause?.message, suppressed: w?.suppressed ?? 0 },
      `upstream ${service} failed (${code})`,
    )
  }
}
