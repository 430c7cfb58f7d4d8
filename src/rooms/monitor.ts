/**
 * Seed 000's monitor: polls the progress endpoint of every mapped node and
 * writes what it reports into the mapping (the only writer of progress). A
 * stopped room whose node reports `gw_state: down`, or cannot be reached for
 * `downAfterPolls` polls in a row, is deleted and its node freed. A started
 * room is never deleted by the monitor.
 */
import type { Logger } from '../log.js'
import type { Counter } from '../metrics/registry.js'
import { fillTemplate, type NodeControl } from './node-control.js'
import type { ExclusiveStore, Mapping } from './types.js'

/** Progress polls in flight at once. */
const POLL_CONCURRENCY = 16

/** Failures count per room, node and state: polls that failed while a room was started do not count once it stops. */
const failureKey = (m: Mapping) => `${m.room}\n${m.node}\n${m.state}`

export interface MonitorOptions {
  pool: string
  nodes: readonly string[]
  progressUrl: string
  downAfterPolls: number
  store: ExclusiveStore
  control: NodeControl
  polls: Counter
  log: Logger
}

/** How often the leader looks for mappings written outside roomgate. */
export const ADOPT_INTERVAL_MS = 60_000

/** One round of the monitor; rooms/index.ts runs it in a LeaderLoop every `monitorIntervalMs`. */
export class GatewayMonitor {
  private lastAdopt = -Infinity

  /** room, node and state → consecutive failed polls (on the leader). */
  private readonly failures = new Map<string, number>()

  constructor(private readonly o: MonitorOptions) {}

  /** A config reload: the pool's nodes, progress URL and down threshold, from the next round. */
  reload(pool: Pick<MonitorOptions, 'nodes' | 'progressUrl' | 'downAfterPolls'>): void {
    Object.assign(this.o, pool)
  }

  /** One round. Stops taking new mappings when `signal` aborts (this instance stopped leading). */
  async poll(signal?: AbortSignal): Promise<void> {
    if (performance.now() - this.lastAdopt >= ADOPT_INTERVAL_MS) await this.adopt()
    const mappings = await this.o.store.list(this.o.pool)
    const live = new Set(mappings.map(failureKey))
    for (const key of this.failures.keys()) if (!live.has(key)) this.failures.delete(key)
    let next = 0
    const worker = async () => {
      while (next < mappings.length && !signal?.aborted) await this.check(mappings[next++]!)
    }
    await Promise.all(Array.from({ length: Math.min(POLL_CONCURRENCY, mappings.length) }, worker))
  }

  /** Makes mappings written outside roomgate hold their node (and be monitored); run on taking over, then every minute. */
  async adopt(): Promise<void> {
    const { adopted, conflicts } = await this.o.store.adopt(this.o.pool, this.o.nodes)
    this.lastAdopt = performance.now()
    if (adopted.length > 0) {
      this.o.log.info({ pool: this.o.pool, rooms: adopted.map((m) => `${m.room}@${m.node}`).slice(0, 20) }, 'adopted mappings written outside roomgate')
    }
    for (const m of conflicts) {
      this.o.log.error({ pool: this.o.pool, room: m.room, node: m.node }, 'two mappings claim one gateway: this one is not managed until the other goes')
    }
  }

  /** Polls one mapping; never throws (one bad mapping must not cut the round short). */
  private async check(m: Mapping): Promise<void> {
    try {
      await this.checkOrThrow(m)
    } catch (err) {
      this.o.log.warn({ pool: this.o.pool, room: m.room, err: (err as Error).message }, 'monitor could not update a mapping')
    }
  }

  private async checkOrThrow(m: Mapping): Promise<void> {
    const { o } = this
    const key = failureKey(m)
    let report
    try {
      report = await o.control.progress(fillTemplate(o.progressUrl, m.node, m.room))
    } catch (err) {
      const failures = (this.failures.get(key) ?? 0) + 1
      this.failures.set(key, failures)
      o.polls.child(o.pool, 'unreachable').inc()
      if (failures === 1) o.log.warn({ pool: o.pool, room: m.room, node: m.node, err: (err as Error).message }, 'node progress unreachable')
      if (m.state === 'stopped' && failures >= o.downAfterPolls) await this.release(m, `unreachable for ${failures} polls`)
      return
    }
    this.failures.delete(key)
    o.polls.child(o.pool, 'ok').inc()
    if (m.state === 'stopped' && report.gwState === 'down') {
      await this.release(m, 'gw_state down')
      return
    }
    if (report.duration !== m.duration || report.progress !== m.progress) {
      await o.store.writeProgress(m.room, m.node, report.duration, report.progress)
    }
  }

  private async release(m: Mapping, why: string): Promise<void> {
    if (await this.o.store.removeIf(this.o.pool, m.room, m.node, 'stopped')) {
      this.failures.delete(failureKey(m))
      this.o.polls.child(this.o.pool, 'released').inc()
      this.o.log.info({ pool: this.o.pool, room: m.room, node: m.node, why }, 'stopped room released its node')
    }
  }
}
