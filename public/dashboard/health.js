// The health section. Its rows are kept from one snapshot to the next (and
// only updated), so each check's uPlot chart lives on and is fed new data.
import { latencyChart } from './charts.js'
import { body, h, muted, plural } from './dom.js'
import { ago, ms } from './format.js'

const checks = new Map()

function checkEntry(name) {
  let e = checks.get(name)
  if (e) return e
  const state = h('span', { className: 'badge' })
  const title = h('h3', null, name, state)
  const target = h('p', { className: 'muted mono' })
  const figures = h('p', { className: 'figures' })
  const error = h('p', { className: 'error' })
  const chart = h('div', { className: 'chart' })
  const root = h('div', { className: 'check', data: { check: name } }, title, target, figures, error, chart)
  e = { root, state, target, figures, error, chartBox: chart, chart: null }
  checks.set(name, e)
  return e
}

export function renderHealth(list, now) {
  const el = body('health')
  if (list.length === 0) {
    resetHealth()
    return el.replaceChildren(muted('No health checks configured (health.checks, S3_HEALTH_BUCKET).'))
  }
  let grid = el.querySelector(':scope > .checks')
  if (!grid) {
    grid = h('div', { className: 'checks' })
    el.replaceChildren(grid)
  }
  const names = new Set(list.map((c) => c.name))
  for (const [name, e] of checks) {
    if (names.has(name)) continue
    e.chart?.destroy()
    e.root.remove()
    checks.delete(name)
  }
  for (const c of list) {
    const e = checkEntry(c.name)
    e.root.dataset.state = c.state
    e.root.className = `check check-${c.state}`
    e.state.className = `badge badge-${c.state}`
    e.state.textContent = c.state === 'ok' ? 'healthy' : c.state
    e.target.textContent = `${c.kind} · ${c.target}`
    e.figures.textContent = [
      `last ${c.latency === null ? (c.checkCount > 0 ? 'no answer' : '–') : ms(c.latency)}`,
      `avg ${ms(c.averageLatency)}`,
      plural(c.checkCount, 'run', 'runs'),
      c.consecutiveFailures > 0 ? `${plural(c.consecutiveFailures, 'failure', 'failures')} in a row` : null,
      c.lastCheck ? `checked ${ago(Date.parse(c.lastCheck), now)}` : 'not run yet',
    ]
      .filter(Boolean)
      .join(' · ')
    e.error.textContent = c.error ?? ''
    e.error.hidden = !c.error
    grid.append(e.root)
    if (e.chart) e.chart.update(c.history)
    else e.chart = latencyChart(e.chartBox, c.history)
  }
}

export function resetHealth() {
  for (const e of checks.values()) e.chart?.destroy()
  checks.clear()
}
