/**
 * What the health capability shows the rest of the gateway. `CheckSnapshot`
 * keeps seed 002's field names (`latency`, `averageLatency`, `isHealthy`,
 * `lastCheck`, `checkCount`, `latencyHistory`, `region`): its dashboards read
 * them from `/api/v1/metrics/s3` and the `s3-health` WebSocket message.
 */

export type CheckKind = 's3' | 'http'

export interface CheckSnapshot {
  name: string
  kind: CheckKind
  /** The URL requested, without credentials. */
  target: string
  /** ms of the last check; null when it failed before any answer (timeout, refused). */
  latency: number | null
  /** Math.round of the mean of the last three latency samples. */
  averageLatency: number | null
  isHealthy: boolean
  /** ISO time of the last completed check. */
  lastCheck: string | null
  checkCount: number
  /** The last `health.historySize` samples, oldest first. */
  latencyHistory: number[]
  /** S3 checks only. */
  region?: string
  /** The last failure, safe to show clients (no secrets, no signatures). */
  error: string | null
  consecutiveFailures: number
}

/** The outcome of one attempt. */
export interface CheckResult {
  ok: boolean
  /** ms until the answer's headers; null when no answer came. */
  latency: number | null
  error: string | null
}

/** One configured check: one request per run. */
export interface Check {
  readonly name: string
  readonly kind: CheckKind
  readonly target: string
  readonly region?: string
  /** Never throws: every failure is a result. `signal` aborts when the monitor closes. */
  run(signal: AbortSignal): Promise<CheckResult>
}
