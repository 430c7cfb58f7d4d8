/**
 * Runs every configured health check on its own timer and keeps what seed
 * 002's dashboards read: last and average latency, a bounded latency history,
 * health, counts. Each check runs at once on start() and then every
 * `intervalMs`; a slow run delays the next one instead of overlapping it.
 * Timers are unref'd, failures are results (never thrown from a timer), and a
 * check that turns unhealthy is logged once, not on every failed run.
 */
import { Agent } from 'undici'
import type { HealthConfig } from '../config/health-schema.js'
import type { Logger } from '../log.js'
import type { Counter, CounterChild, Gauge, GaugeChild, Registry } from '../metrics/registry.js'
import { credentialsFromEnv, type CredentialSource } from './credentials.js'
import { HttpCheck } from './http-check.js'
import { S3Check } from './s3-check.js'
import { checkHealthConfig, checkSpecs } from './specs.js'
import type { Check, CheckResult, CheckSnapshot } from './types.js'

/** averageLatency is the mean of this many latest samples (the seed's "3-sample running average"). */
export const AVERAGE_SAMPLES = 3

export interface HealthMonitorOptions {
  config: HealthConfig
  /** Where the AWS credential chain looks (tests pass their own). */
  env: NodeJS.ProcessEnv
  log: Logger
  registry: Registry
  /** Called after each completed check with a copy of its snapshot (the `s3-health` push). */
  onUpdate?: (snapshot: CheckSnapshot) => void
}

interface Entry {
  check: Check
  state: CheckSnapshot
  /** Latest latency samples: enough for the history and for the average. */
  samples: number[]
  /** What the log last said about this check. */
  reported: 'healthy' | 'unhealthy' | undefined
  timer: NodeJS.Timeout | undefined
  running: Promise<void> | undefined
  up: GaugeChild
  ok: CounterChild
  fail: CounterChild
}

const copy = (s: CheckSnapshot): CheckSnapshot => ({ ...s, latencyHistory: [...s.latencyHistory] })

export class HealthMonitor {
  private readonly entries = new Map<string, Entry>()
  private readonly agent: Agent
  private readonly credentials: CredentialSource | undefined
  /**
   * One controller per run, aborted by close(): a signal that lived as long as
   * the monitor would keep every run's AbortSignal.any() composite alive
   * (Node 20), a few dozen bytes per run, forever.
   */
  private readonly runs = new Set<AbortController>()
  private readonly upGauge: Gauge
  private readonly latencyGauge: Gauge
  private readonly runCounter: Counter
  private readonly seedCheck: string | undefined
  private started = false
  private closed: Promise<void> | undefined

  constructor(private readonly o: HealthMonitorOptions) {
    const problems = checkHealthConfig({ health: o.config })
    if (problems.length > 0) throw new Error(`invalid health config: ${problems.join('; ')}`)
    const { timeoutMs } = o.config
    const specs = checkSpecs(o.config)
    this.agent = new Agent({ connectTimeout: timeoutMs, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
    // Only S3 checks need credentials: do not look for them (or warn about them) otherwise.
    let credentials: CredentialSource | undefined
    const s3Credentials = () => (credentials ??= credentialsFromEnv(o.env, { timeoutMs, log: o.log }))
    this.seedCheck = specs.find((s) => s.kind === 's3')?.name

    const up = (this.upGauge = o.registry.gauge('roomgate_health_check_up', 'Whether the last run of a health check passed (1) or failed (0).', ['check']))
    this.latencyGauge = o.registry.gauge(
      'roomgate_health_check_latency_seconds',
      'Latency of the last answered run of a health check.',
      ['check'],
    )
    const runs = (this.runCounter = o.registry.counter('roomgate_health_checks_total', 'Health check runs by result.', ['check', 'result']))

    for (const spec of specs) {
      const check: Check =
        spec.kind === 's3'
          ? new S3Check({ ...spec, timeoutMs, dispatcher: this.agent, credentials: s3Credentials() })
          : new HttpCheck({ ...spec, timeoutMs, dispatcher: this.agent })
      const state: CheckSnapshot = {
        name: check.name,
        kind: check.kind,
        target: check.target,
        latency: null,
        averageLatency: null,
        isHealthy: false,
        lastCheck: null,
        checkCount: 0,
        latencyHistory: [],
        ...(check.region !== undefined ? { region: check.region } : {}),
        error: null,
        consecutiveFailures: 0,
      }
      this.entries.set(check.name, {
        check,
        state,
        samples: [],
        reported: undefined,
        timer: undefined,
        running: undefined,
        up: up.child(check.name),
        ok: runs.child(check.name, 'ok'),
        fail: runs.child(check.name, 'fail'),
      })
    }
    this.credentials = credentials
  }

  /** Runs every check now, then each one every `intervalMs`. */
  start(): void {
    if (this.started || this.closed) return
    this.started = true
    for (const e of this.entries.values()) this.loop(e)
  }

  /** Runs every check now (joining runs in progress) and resolves when all are done. */
  async tick(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => this.runEntry(e)))
  }

  /** Stops the timers, aborts requests in flight and waits for them. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      for (const e of this.entries.values()) clearTimeout(e.timer)
      for (const run of this.runs) run.abort()
      // A run never rejects (runEntry catches), so this only waits.
      await Promise.all([...this.entries.values()].map((e) => e.running ?? Promise.resolve()))
      await this.agent.close()
      await this.credentials?.close()
    })()
    return this.closed
  }

  /** After a reload replaced this monitor by `next`: drops the metric series of the checks `next` does not run. */
  forgetAllBut(next: HealthMonitor): void {
    for (const name of this.entries.keys()) {
      if (next.entries.has(name)) continue
      this.upGauge.remove(name)
      this.latencyGauge.remove(name)
      this.runCounter.remove(name, 'ok')
      this.runCounter.remove(name, 'fail')
    }
  }

  all(): CheckSnapshot[] {
    return [...this.entries.values()].map((e) => copy(e.state))
  }

  get(name: string): CheckSnapshot | undefined {
    const e = this.entries.get(name)
    return e && copy(e.state)
  }

  /** The seed's check: `health.s3` when it names a bucket, else the first S3 check. */
  s3(): CheckSnapshot | undefined {
    return this.seedCheck === undefined ? undefined : this.get(this.seedCheck)
  }

  private loop(e: Entry): void {
    if (this.closed) return
    const started = performance.now()
    void this.runEntry(e).then(() => {
      if (this.closed) return
      // Every intervalMs from the start of the last run; at once if the run took longer.
      e.timer = setTimeout(() => this.loop(e), Math.max(0, this.o.config.intervalMs - (performance.now() - started)))
      e.timer.unref()
    })
  }

  private runEntry(e: Entry): Promise<void> {
    if (this.closed) return Promise.resolve()
    if (e.running) return e.running
    const run = new AbortController()
    this.runs.add(run)
    e.running = e.check
      .run(run.signal)
      .then((result) => {
        if (!this.closed) this.record(e, result)
      })
      .catch((err: unknown) => this.o.log.error({ check: e.check.name, err: (err as Error).message }, 'health check crashed'))
      .finally(() => {
        this.runs.delete(run)
        e.running = undefined
      })
    return e.running
  }

  private record(e: Entry, r: CheckResult): void {
    const { state: s } = e
    const { historySize } = this.o.config
    s.checkCount++
    s.lastCheck = new Date().toISOString()
    s.latency = r.latency
    if (r.latency !== null) {
      e.samples.push(r.latency)
      if (e.samples.length > Math.max(historySize, AVERAGE_SAMPLES)) e.samples.shift()
      this.latencyGauge.child(e.check.name).set(r.latency / 1000)
    }
    s.latencyHistory = e.samples.slice(-historySize)
    const recent = e.samples.slice(-AVERAGE_SAMPLES)
    s.averageLatency = recent.length > 0 ? Math.round(recent.reduce((a, b) => a + b, 0) / recent.length) : null
    s.isHealthy = r.ok
    s.error = r.ok ? null : (r.error ?? 'failed')
    s.consecutiveFailures = r.ok ? 0 : s.consecutiveFailures + 1
    e.up.set(r.ok ? 1 : 0)
    ;(r.ok ? e.ok : e.fail).inc()
    this.report(e)
    try {
      this.o.onUpdate?.(copy(s))
    } catch (err) {
      this.o.log.error({ check: e.check.name, err: (err as Error).message }, 'health update listener threw')
    }
  }

  /** One line per change of health, not one per failed run. */
  private report(e: Entry): void {
    const { state: s } = e
    const now = s.isHealthy ? 'healthy' : 'unhealthy'
    if (now === e.reported) return
    const fields = { check: s.name, target: s.target, latency: s.latency }
    if (now === 'unhealthy') this.o.log.warn({ ...fields, error: s.error }, 'health check failing')
    else if (e.reported === 'unhealthy') this.o.log.info(fields, 'health check recovered')
    else this.o.log.debug(fields, 'health check healthy')
    e.reported = now
  }
}
