/**
 * A small Prometheus registry. Hot paths resolve a labelled child once
 * (`counter.child('lobby', '200')`) and then only add to numbers; rendering the
 * text format happens only when /metrics is scraped. A metric registered again
 * with the same kind and labels is the one already there, so a part rebuilt by
 * a config reload (a health monitor, a device token verifier) keeps counting
 * into the same series; any other reuse of a name is a bug, and throws.
 */
import { runtimeMetrics } from './runtime.js'

type Values = readonly string[]

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function labelText(names: Values, values: Values, extra?: string): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`)
  if (extra) parts.push(extra)
  return parts.length ? `{${parts.join(',')}}` : ''
}

function formatNumber(n: number): string {
  if (n === Infinity) return '+Inf'
  if (n === -Infinity) return '-Inf'
  return String(n)
}

abstract class Metric<C> {
  protected readonly children = new Map<string, { values: Values; child: C }>()

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: Values,
  ) {}

  /** The series for these label values (created on first use, then cached). */
  child(...values: string[]): C {
    const key = values.join('\u0000')
    let entry = this.children.get(key)
    if (!entry) {
      entry = { values, child: this.create() }
      this.children.set(key, entry)
    }
    return entry.child
  }

  /** Drops the series for these label values (a health check a reload removed). */
  remove(...values: string[]): void {
    this.children.delete(values.join('\u0000'))
  }

  protected abstract create(): C
  abstract render(): string

  protected header(type: string): string {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} ${type}\n`
  }
}

export class CounterChild {
  value = 0
  inc(n = 1): void {
    this.value += n
  }
}

export class Counter extends Metric<CounterChild> {
  protected create() {
    return new CounterChild()
  }
  inc(n = 1): void {
    this.child().inc(n)
  }
  /** Each series' label values and count (the dashboard reads them without rendering the text format). */
  series(): Array<{ labels: Values; value: number }> {
    return [...this.children.values()].map(({ values, child }) => ({ labels: values, value: child.value }))
  }
  render(): string {
    let out = this.header('counter')
    for (const { values, child } of this.children.values()) {
      out += `${this.name}${labelText(this.labelNames, values)} ${formatNumber(child.value)}\n`
    }
    return out
  }
}

export class GaugeChild {
  value = 0
  set(v: number): void {
    this.value = v
  }
  inc(n = 1): void {
    this.value += n
  }
  dec(n = 1): void {
    this.value -= n
  }
}

export class Gauge extends Metric<GaugeChild> {
  /** Values read at scrape time (memory, connection counts kept elsewhere). */
  private collectors: Array<() => void> = []

  protected create() {
    return new GaugeChild()
  }
  set(v: number): void {
    this.child().set(v)
  }
  inc(n = 1): void {
    this.child().inc(n)
  }
  dec(n = 1): void {
    this.child().dec(n)
  }
  onCollect(fn: () => void): void {
    this.collectors.push(fn)
  }
  render(): string {
    for (const fn of this.collectors) fn()
    let out = this.header('gauge')
    for (const { values, child } of this.children.values()) {
      out += `${this.name}${labelText(this.labelNames, values)} ${formatNumber(child.value)}\n`
    }
    return out
  }
}

export class HistogramChild {
  readonly counts: number[]
  sum = 0
  count = 0
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length).fill(0)
  }
  observe(v: number): void {
    this.sum += v
    this.count++
    const b = this.bounds
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.counts[i]!++
        return
      }
    }
  }
}

/** Upstream latencies in seconds: 1 ms to 10 s. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export class Histogram extends Metric<HistogramChild> {
  constructor(
    name: string,
    help: string,
    labelNames: Values,
    readonly buckets: readonly number[] = LATENCY_BUCKETS,
  ) {
    super(name, help, labelNames)
  }
  protected create() {
    return new HistogramChild(this.buckets)
  }
  render(): string {
    let out = this.header('histogram')
    for (const { values, child } of this.children.values()) {
      let cumulative = 0
      this.buckets.forEach((bound, i) => {
        cumulative += child.counts[i]!
        out += `${this.name}_bucket${labelText(this.labelNames, values, `le="${formatNumber(bound)}"`)} ${cumulative}\n`
      })
      out += `${this.name}_bucket${labelText(this.labelNames, values, 'le="+Inf"')} ${child.count}\n`
      out += `${this.name}_sum${labelText(this.labelNames, values)} ${formatNumber(child.sum)}\n`
      out += `${this.name}_count${labelText(this.labelNames, values)} ${child.count}\n`
    }
    return out
  }
}

export class Registry {
  private readonly metrics = new Map<string, Metric<unknown>>()

  counter(name: string, help: string, labelNames: Values = []): Counter {
    return this.add(new Counter(name, help, labelNames))
  }
  gauge(name: string, help: string, labelNames: Values = []): Gauge {
    return this.add(new Gauge(name, help, labelNames))
  }
  histogram(name: string, help: string, labelNames: Values = [], buckets?: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets))
  }

  render(): string {
    let out = ''
    for (const m of this.metrics.values()) out += m.render()
    return out
  }

  /** What `/metrics` serves: roomgate's series, then the process and runtime ones (runtime.ts). */
  async exposition(): Promise<string> {
    return this.render() + (await runtimeMetrics())
  }

  private add<M extends Metric<unknown>>(metric: M): M {
    const known = this.metrics.get(metric.name)
    if (!known) {
      this.metrics.set(metric.name, metric)
      return metric
    }
    if (known.constructor === metric.constructor && known.labelNames.join() === metric.labelNames.join()) return known as M
    throw new Error(`metric ${metric.name} registered twice`)
  }
}
