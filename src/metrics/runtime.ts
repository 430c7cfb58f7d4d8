/**
 * The process and Node.js runtime series, under the names Grafana's standard
 * Node.js dashboards expect (`process_cpu_seconds_total`,
 * `process_resident_memory_bytes`, `nodejs_eventloop_lag_seconds`,
 * `nodejs_heap_size_used_bytes`, `nodejs_gc_duration_seconds`,
 * `nodejs_active_handles`, `nodejs_version_info`…), from prom-client's default
 * metrics rather than hand-written copies. They describe the process, so one
 * registry serves every roomgate server in it, created on first use.
 */
import { collectDefaultMetrics, Registry } from 'prom-client'

let runtime: Registry | undefined

/** The runtime series in the Prometheus text format. */
export function runtimeMetrics(): Promise<string> {
  if (runtime === undefined) {
    runtime = new Registry()
    // 20 ms: the event-loop lag histogram samples often enough for its percentiles at no measurable cost.
    collectDefaultMetrics({ register: runtime, eventLoopMonitoringPrecision: 20 })
  }
  return runtime.metrics()
}
