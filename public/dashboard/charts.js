// Latency charts (uPlot, served by roomgate: /dashboard/uPlot.iife.min.js).
// One chart per health check, created once and fed new data every second.
/* global uPlot, window */

const HEIGHT = 150

/** [times, latency ms or null, a point at 0 for each failed run] */
function toData(history) {
  const failed = history.ok.map((ok) => (ok ? null : 0))
  return [history.t, history.ms, failed]
}

function options(width) {
  return {
    width,
    height: HEIGHT,
    legend: { show: true, live: false },
    cursor: { drag: { x: false, y: false } },
    scales: {
      x: { time: true },
      y: { range: (_u, _min, max) => [0, Math.max(10, (max ?? 0) * 1.15)] },
    },
    axes: [
      { stroke: '#5b6472', grid: { stroke: '#e6e8ec' } },
      { stroke: '#5b6472', grid: { stroke: '#e6e8ec' }, label: 'ms', size: 48 },
    ],
    series: [
      {},
      { label: 'latency (ms)', stroke: '#2563eb', width: 2, spanGaps: false, points: { show: true, size: 5 } },
      {
        label: 'failed run',
        stroke: '#dc2626',
        fill: '#dc2626',
        paths: () => null,
        points: { show: true, size: 8, fill: '#dc2626', stroke: '#dc2626' },
      },
    ],
  }
}

const charts = new Set()

/** A chart in `container` for `history` ({t, ms, ok}); returns an updater. */
export function latencyChart(container, history) {
  if (typeof uPlot !== 'function') {
    container.textContent = 'Chart library not loaded'
    return { update() {}, destroy() {} }
  }
  const width = () => Math.max(240, container.clientWidth || 480)
  const plot = new uPlot(options(width()), toData(history), container)
  const chart = {
    update(next) {
      plot.setData(toData(next))
    },
    resize() {
      plot.setSize({ width: width(), height: HEIGHT })
    },
    destroy() {
      charts.delete(chart)
      plot.destroy()
    },
  }
  charts.add(chart)
  return chart
}

let pending = false
window.addEventListener('resize', () => {
  if (pending) return
  pending = true
  window.requestAnimationFrame(() => {
    pending = false
    for (const c of charts) c.resize()
  })
})
