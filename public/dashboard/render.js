// Builds the dashboard's sections from one snapshot. Every piece of data goes
// into the page as text (textContent, or a text node) or as a number property:
// nothing from the server is ever parsed as HTML.
/* global document */
import { bar, body, failure, h, muted, plural, table } from './dom.js'
import { ago, count, duration, percent, shortId } from './format.js'
import { renderHealth, resetHealth } from './health.js'

/** Pools with more nodes than this list only the busy ones, and count the idle. */
const MAX_IDLE_NODES_LISTED = 24

const SCOPES = {
  http: 'HTTP requests and upgrades, per client IP',
  ws: 'WebSocket messages, per connection',
  jobs: 'job creations and cancels, per API key',
  'jobs-read': 'job reads, per API key',
  'status-refresh': 'status refreshes, per project',
}

// Rooms

function roomChip(room, exclusive) {
  const parts = exclusive
    ? [room.state, room.duration, room.progress].filter((p) => p !== undefined && p !== '' && p !== '-')
    : [plural(room.users, 'user', 'users')]
  return h(
    'li',
    { className: `room room-${room.state}`, data: { room: room.room, users: room.users } },
    h('span', { className: 'room-name' }, room.room),
    h('span', { className: 'room-meta' }, parts.join(' · ')),
  )
}

function nodeRow(pool, node) {
  const exclusive = pool.strategy === 'exclusive'
  const loadText = exclusive ? (node.roomCount > 0 ? 'in use' : 'free') : `${percent(node.load)} of ${count(pool.capacity)}`
  const rooms = node.rooms.map((r) => roomChip(r, exclusive))
  if (node.roomCount > node.rooms.length) rooms.push(h('li', { className: 'room more' }, `+ ${count(node.roomCount - node.rooms.length)} more`))
  return h(
    'tr',
    { data: { node: node.node } },
    h('td', { className: 'node' }, node.node, node.unlisted ? h('span', { className: 'muted' }, ' (not in config)') : null),
    h(
      'td',
      { className: 'load' },
      h('meter', { min: 0, max: 1, low: 0.6, high: 0.85, optimum: 0, value: Math.min(1, node.load), title: loadText }),
      h('span', { className: 'bar-label' }, loadText),
    ),
    h('td', { className: 'num' }, exclusive ? '–' : count(node.users)),
    h('td', null, rooms.length > 0 ? h('ul', { className: 'rooms' }, rooms) : h('span', { className: 'muted' }, 'no rooms')),
  )
}

function renderRooms(section) {
  const el = body('rooms')
  if (section.error) return el.replaceChildren(failure(`Rooms cannot be read: ${section.error}`))
  if (section.items.length === 0) return el.replaceChildren(muted('No pools configured (rooms.pools).'))
  el.replaceChildren(
    ...section.items.map((pool) => {
      const busy = pool.nodes.filter((n) => n.roomCount > 0)
      const shown = pool.nodes.length > MAX_IDLE_NODES_LISTED ? busy : pool.nodes
      const idle = pool.nodes.length - shown.length
      const role = pool.role === 'legacy' ? 'seed 000 API' : pool.role === 'server' ? '/v2/room_server' : null
      return h(
        'div',
        { className: 'pool', data: { pool: pool.name } },
        h(
          'h3',
          null,
          pool.name,
          h('span', { className: 'tag' }, pool.strategy),
          role ? h('span', { className: 'tag' }, role) : null,
        ),
        muted(`${plural(pool.rooms, 'room', 'rooms')} · ${plural(pool.users, 'user', 'users')} · ${plural(pool.nodes.length, 'node', 'nodes')}`),
        table(['Node', 'Load', 'Users', 'Rooms'], shown.map((n) => nodeRow(pool, n)), 'nodes'),
        idle > 0 ? muted(`${plural(idle, 'idle node', 'idle nodes')} not listed.`) : null,
      )
    }),
  )
}

// Devices

function renderDevices(instances, now) {
  const el = body('devices')
  if (instances.length === 0) return el.replaceChildren(muted('No instance has reported yet.'))
  const rows = instances.map((i) =>
    h(
      'tr',
      { data: { instance: i.instance } },
      h('td', { className: 'mono' }, i.instance, i.self ? h('span', { className: 'tag' }, 'this one') : null),
      h('td', { className: 'num' }, count(i.devices)),
      h('td', { className: 'num' }, count(i.connections)),
      h('td', { className: 'num' }, count(i.watchers)),
      h('td', { className: 'muted' }, ago(now - i.ageMs, now)),
    ),
  )
  if (instances.length > 1) {
    const sum = (k) => instances.reduce((n, i) => n + i[k], 0)
    rows.push(
      h(
        'tr',
        { className: 'total' },
        h('td', null, 'all instances'),
        h('td', { className: 'num' }, count(sum('devices'))),
        h('td', { className: 'num' }, count(sum('connections'))),
        h('td', { className: 'num' }, count(sum('watchers'))),
        h('td', null, ''),
      ),
    )
  }
  el.replaceChildren(table(['Instance', 'Devices', 'Connections', 'Dashboards', 'Report'], rows, 'devices'))
}

// Jobs

function jobRow(job, now) {
  const files = job.files
  const done = files.completed + files.failed
  const filesLabel = `${count(done)} / ${plural(files.total, 'file', 'files')}${files.failed > 0 ? ` (${count(files.failed)} failed)` : ''}`
  const bytesLabel = `${job.bytes.completedReadable} / ${job.bytes.totalReadable}`
  const since = job.startedAt ?? job.createdAt
  return h(
    'tr',
    { data: { job: job.id, status: job.status } },
    h('td', { className: 'mono', title: job.id }, shortId(job.id)),
    h('td', null, h('span', { className: `badge badge-${job.status}` }, job.status), job.error ? h('div', { className: 'error' }, job.error) : null),
    h('td', { className: 'progress-files' }, bar(done, files.total, filesLabel)),
    h('td', { className: 'progress-bytes' }, bar(job.bytes.completed, job.bytes.total, bytesLabel)),
    h('td', { className: 'num' }, job.throughputReadable ?? '–'),
    h('td', { className: 'num' }, job.etaSeconds === null ? '–' : duration(job.etaSeconds)),
    h('td', { className: 'muted' }, job.status === 'pending' ? `queued ${ago(job.createdAt, now)}` : `started ${ago(since, now)}`),
  )
}

function renderJobs(section, now) {
  const el = body('jobs')
  if (section.error) return el.replaceChildren(failure(`Jobs cannot be read: ${section.error}`))
  if (section.items.length === 0) return el.replaceChildren(muted('No cache jobs yet.'))
  el.replaceChildren(
    table(['Job', 'Status', 'Files', 'Bytes', 'Throughput', 'ETA', 'When'], section.items.map((j) => jobRow(j, now)), 'jobs'),
  )
}

// Status sources

function renderStatus(section, now) {
  const el = body('status')
  if (section.error) return el.replaceChildren(failure(`Status sources cannot be read: ${section.error}`))
  if (section.items.length === 0) return el.replaceChildren(muted('No status sources configured (status.sources).'))
  const rows = section.items.map((s) => {
    const failing = s.failedAt !== null && (s.fetchedAt === null || s.failedAt > s.fetchedAt)
    return h(
      'tr',
      { data: { slug: s.slug }, className: failing ? 'failing' : '' },
      h('td', { className: 'mono' }, s.slug, s.active ? null : h('span', { className: 'tag' }, 'inactive')),
      h('td', { className: 'num' }, count(s.subscribers)),
      h(
        'td',
        { className: 'nowrap', title: `Read every ${duration(s.pollIntervalSeconds)} while someone watches` },
        s.fetchedAt === null ? 'never' : ago(s.fetchedAt, now),
      ),
      h('td', { className: 'num' }, s.units === null ? '–' : count(s.units)),
      h('td', { className: failing ? 'error' : 'muted' }, failing ? `${s.error} (${ago(s.failedAt, now)})` : 'none'),
    )
  })
  el.replaceChildren(table(['Source', 'Subscribers', 'Last poll', 'Units', 'Last error'], rows, 'status'))
}

// Rate limits

function renderRateLimits(list) {
  const el = body('ratelimits')
  if (list.length === 0) return el.replaceChildren(muted('No rate limit has been set up.'))
  const rows = list.map((r) =>
    h(
      'tr',
      { data: { scope: r.scope }, className: r.perSecond > 0 ? 'hot' : '' },
      h('td', { className: 'mono' }, r.scope),
      h('td', { className: 'muted' }, SCOPES[r.scope] ?? ''),
      h('td', { className: 'num' }, count(r.total)),
      h('td', { className: 'num' }, r.perSecond.toFixed(r.perSecond > 0 && r.perSecond < 10 ? 1 : 0)),
    ),
  )
  el.replaceChildren(table(['Scope', 'What', 'Rejected', 'Per second'], rows, 'ratelimits'))
}

/** Fills every section from one `{"type":"dashboard", …}` message. */
export function render(snapshot) {
  const now = snapshot.at
  renderRooms(snapshot.rooms)
  renderDevices(snapshot.instances, now)
  renderJobs(snapshot.jobs, now)
  renderHealth(snapshot.health, now)
  renderStatus(snapshot.status, now)
  renderRateLimits(snapshot.rateLimits)
}

/** Empties every section: what was shown must not stay in the page once signed out. */
export function resetBoard() {
  resetHealth()
  for (const el of document.querySelectorAll('#board .body')) el.replaceChildren()
}
