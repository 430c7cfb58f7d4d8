/**
 * What only each instance knows, shared over the bus so that any instance's
 * dashboard shows the whole cluster: devices and connections on its /ws,
 * status subscribers, rate-limit rejections. Every instance publishes its
 * report every second and keeps the latest report of every other; a report
 * not renewed for STALE_MS (its instance stopped, or lost the bus) is dropped.
 * Reports are judged by arrival time (another instance's clock may be off);
 * per-second rates come from the sender's own timestamps.
 */
import { PREFIX } from '../engine/keys.js'
import type { Bus } from '../engine/types.js'
import { OutageLog, type Logger } from '../log.js'

/** The bus channel of the reports (under the same prefix as every channel of engine/keys.ts). */
export const INSTANCES_CHANNEL = `${PREFIX}dash:instances`
/** A report older than this (by arrival) is dropped. */
export const STALE_MS = 5_000
/** More instances than this is not a cluster but a flood: further ones are ignored. */
const MAX_INSTANCES = 256

export interface InstanceReport {
  instance: string
  /** Identified devices connected to this instance. */
  devices: number
  /** Open /ws connections (devices and dashboards). */
  connections: number
  /** Dashboard watchers. */
  watchers: number
  /** SSE subscribers per status slug. */
  statusSubscribers: Record<string, number>
  /** `roomgate_rate_limited_total` per scope, since the instance started. */
  rateLimited: Record<string, number>
  /** Sender's clock, epoch ms. */
  at: number
}

export interface InstanceState {
  report: InstanceReport
  /** Rejections per second per scope, over the last two reports. */
  rejectedPerSecond: Record<string, number>
  /** Local arrival, epoch ms. */
  receivedAt: number
}

export class Instances {
  private readonly reports = new Map<string, InstanceState>()
  private readonly outage: OutageLog
  private closed = false

  constructor(
    private readonly bus: Bus,
    private readonly self: string,
    private readonly own: () => InstanceReport,
    log: Logger,
  ) {
    this.outage = new OutageLog(log, 'dashboard instance report not published (bus unavailable)', 'dashboard instance reports flowing again')
  }

  start(): Promise<void> {
    return this.bus.subscribe(INSTANCES_CHANNEL, this.receive)
  }

  /** Stops taking reports. The subscription itself ends with the engine (no Redis round trip at shutdown). */
  close(): void {
    this.closed = true
    this.reports.clear()
  }

  /** Records this instance's report and sends it to the others. */
  publish(): void {
    const report = this.own()
    this.record(report)
    this.bus.publish(INSTANCES_CHANNEL, JSON.stringify(report)).then(
      () => this.outage.ok(),
      (err: unknown) => this.outage.fail(err),
    )
  }

  /**
   * The fresh reports, this instance first, then by id. This instance's is
   * read now (its rates stay those of the last published report: a rate
   * over a few milliseconds would only be noise).
   */
  list(now = Date.now()): InstanceState[] {
    const out: InstanceState[] = []
    for (const [id, s] of this.reports) {
      if (id === this.self) out.push({ ...s, report: this.own(), receivedAt: now })
      else if (now - s.receivedAt > STALE_MS) this.reports.delete(id)
      else out.push(s)
    }
    return out.sort((a, b) =>
      a.report.instance === this.self ? -1 : b.report.instance === this.self ? 1 : a.report.instance.localeCompare(b.report.instance),
    )
  }

  private readonly receive = (raw: string): void => {
    if (this.closed) return
    const report = parseReport(raw)
    // Our own comes back through the bus too: it was recorded when sent.
    if (!report || report.instance === this.self) return
    this.record(report)
  }

  private record(report: InstanceReport): void {
    if (this.closed) return
    const previous = this.reports.get(report.instance)
    if (!previous && this.reports.size >= MAX_INSTANCES) return
    const rejectedPerSecond: Record<string, number> = {}
    const seconds = previous ? (report.at - previous.report.at) / 1000 : 0
    for (const [scope, total] of Object.entries(report.rateLimited)) {
      const before = previous?.report.rateLimited[scope]
      // A restart (counter went down) or a first report counts as no rate yet.
      rejectedPerSecond[scope] = seconds > 0 && before !== undefined && total >= before ? (total - before) / seconds : 0
    }
    this.reports.set(report.instance, { report, rejectedPerSecond, receivedAt: Date.now() })
  }
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0

function counts(v: unknown): Record<string, number> | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined
  const out: Record<string, number> = {}
  for (const [k, n] of Object.entries(v)) if (isCount(n)) out[k] = n
  return out
}

/** A report from the bus, or undefined when it is not one (another version, garbage). */
export function parseReport(raw: string): InstanceReport | undefined {
  let m: Record<string, unknown>
  try {
    m = JSON.parse(raw) as Record<string, unknown>
  } catch {
    return undefined
  }
  if (typeof m !== 'object' || m === null) return undefined
  const statusSubscribers = counts(m.statusSubscribers)
  const rateLimited = counts(m.rateLimited)
  if (
    typeof m.instance !== 'string' ||
    m.instance.length === 0 ||
    m.instance.length > 200 ||
    !isCount(m.devices) ||
    !isCount(m.connections) ||
    !isCount(m.watchers) ||
    !isCount(m.at) ||
    !statusSubscribers ||
    !rateLimited
  ) {
    return undefined
  }
  return {
    instance: m.instance,
    devices: m.devices,
    connections: m.connections,
    watchers: m.watchers,
    statusSubscribers,
    rateLimited,
    at: m.at,
  }
}
