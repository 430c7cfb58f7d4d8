import { describe, expect, it } from 'vitest'
import { Registry } from '../../src/metrics/registry.js'

describe('Registry', () => {
  it('renders counters, gauges and histograms in Prometheus text format', () => {
    const r = new Registry()
    const c = r.counter('req_total', 'Requests', ['service', 'status'])
    c.child('lobby', '200').inc()
    c.child('lobby', '200').inc(2)
    c.child('a"b\\c\n', '502').inc()
    const g = r.gauge('conns', 'Connections')
    g.onCollect(() => g.set(7))
    const h = r.histogram('lat_seconds', 'Latency', ['service'], [0.1, 1])
    h.child('x').observe(0.05)
    h.child('x').observe(0.5)
    h.child('x').observe(5)
    expect(r.render()).toBe(
      [
        '# HELP req_total Requests',
        '# TYPE req_total counter',
        'req_total{service="lobby",status="200"} 3',
        'req_total{service="a\\"b\\\\c\\n",status="502"} 1',
        '# HELP conns Connections',
        '# TYPE conns gauge',
        'conns 7',
        '# HELP lat_seconds Latency',
        '# TYPE lat_seconds histogram',
        'lat_seconds_bucket{service="x",le="0.1"} 1',
        'lat_seconds_bucket{service="x",le="1"} 2',
        'lat_seconds_bucket{service="x",le="+Inf"} 3',
        'lat_seconds_sum{service="x"} 5.55',
        'lat_seconds_count{service="x"} 3',
        '',
      ].join('\n'),
    )
  })

  it('refuses a metric name twice with another kind or other labels', () => {
    const r = new Registry()
    r.counter('a', 'A')
    expect(() => r.gauge('a', 'A')).toThrow(/registered twice/)
    expect(() => r.counter('a', 'A', ['x'])).toThrow(/registered twice/)
  })

  it('gives the same metric to a part rebuilt by a reload, and drops a series on request', () => {
    const r = new Registry()
    r.gauge('up', 'Up', ['check']).child('s3').set(1)
    const again = r.gauge('up', 'Up', ['check'])
    again.child('http').set(0)
    expect(r.render()).toBe('# HELP up Up\n# TYPE up gauge\nup{check="s3"} 1\nup{check="http"} 0\n')
    again.remove('s3')
    expect(r.render()).toBe('# HELP up Up\n# TYPE up gauge\nup{check="http"} 0\n')
  })
})
