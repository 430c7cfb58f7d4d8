/** Process series every operator looks for first: memory, CPU, event-loop delay. */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import type { Registry } from './registry.js'

export class ProcessMetrics {
  private readonly loop: IntervalHistogram

  constructor(registry: Registry) {
    this.loop = monitorEventLoopDelay({ resolution: 20 })
    this.loop.enable()
    const rss = registry.gauge('process_resident_memory_bytes', 'Resident memory size in bytes')
    rss.onCollect(() => rss.set(process.memoryUsage.rss()))
    const heap = registry.gauge('nodejs_heap_used_bytes', 'V8 heap in use, bytes')
    heap.onCollect(() => heap.set(process.memoryUsage().heapUsed))
    const cpu = registry.gauge('process_cpu_seconds_total', 'User and system CPU time, seconds')
    cpu.onCollect(() => {
      const u = process.cpuUsage()
      cpu.set((u.user + u.system) / 1e6)
    })
    const lag = registry.gauge('nodejs_eventloop_delay_seconds', 'Event-loop delay since the last scrape', ['quantile'])
    lag.onCollect(() => {
      lag.child('0.5').set(this.loop.percentile(50) / 1e9)
      lag.child('0.99').set(this.loop.percentile(99) / 1e9)
      lag.child('1').set(this.loop.max / 1e9)
      this.loop.reset()
    })
  }

  close(): void {
    this.loop.disable()
  }
}
