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

export interface MonitorOptions {
  pool: string
  progressUrl: string
  downAfterPolls: number
  store: ExclusiveStore
  control: NodeControl
  polls: Counter
  log: Logger
}

/** One round of the monitor; rooms/index.ts runs it in a LeaderLoop every `monitorIntervalMs`. */
export class GatewayMonitor {
  /** `room\nnode` → consecutive failed polls (on the leader). */
  private readonly failures = new Map<string, number>()

  constructor(private readonly o: MonitorOptions) {}

  async poll(): Promise<void> {
    const mappings = await this.o.store.list(this.o.pool)
    const live = new Set(mappings.map((m) => `${m.room}\n${m.node}`))
    for (const key of this.failures.keys()) if (!live.has(key)) this.failures.delete(key)
    let next = 0
    const worker = async () => {
      while (next < mappings.length) await this.check(mappings[next++]!)
    }
    await Promise.all(Array.from({ length: Math.min(POLL_CONCURRENCY, mappings.length) }, worker))
  }

  private async check(m: Mapping): Promise<void> {
    const { o } = this
    const key = `${m.room}\n${m.node}`
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
      this.failures.delete(`${m.room}\n${m.node}`)
      this.o.polls.child(this.o.pool, 'released').inc()
      this.o.log.info({ pool: this.o.pool, room: m.room, node: m.node, why }, 'stopped room released its node')
    }
  }
}
