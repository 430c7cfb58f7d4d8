/**
 * One dashboard snapshot: what the page shows, gathered from the stores (the
 * cluster's rooms, jobs and status cache), this instance's health monitor,
 * and every instance's report (devices, status subscribers, rate limits).
 * A section whose store fails (Redis unreachable) carries an `error` instead
 * of failing the whole snapshot. Work is bounded: a fixed number of jobs and
 * status sources, and rooms listed per node up to a cap.
 */
import type { StatusSourceConfig } from '../config/status-schema.js'
import type { Engine } from '../engine/types.js'
import type { CheckSnapshot } from '../health/types.js'
import type { StatusCacheStore } from '../status/types.js'
import type { HealthHistory, LatencySeries } from './health-history.js'
import type { Instances } from './instances.js'
import { jobsView, type JobRow } from './jobs-view.js'
import type { PoolView } from './rooms-view.js'

/** Status sources shown. */
export const MAX_STATUS_SOURCES = 100

export interface SnapshotSources {
  engine: Pick<Engine, 'kind' | 'instanceId' | 'state' | 'jobs'>
  /** The pools' rooms (paced by the caller: listing a big pool is a scan). */
  rooms: () => Promise<PoolView[]>
  health: { all(): CheckSnapshot[] }
  history: HealthHistory
  status: {
    /** As the last reload left them. */
    sources: () => readonly StatusSourceConfig[]
    cache: StatusCacheStore
    /** This instance's last failed read of a source, while it keeps failing. */
    failure(slug: string): { at: number; error: string } | undefined
  }
  instances: Instances
}

type Section<T> = { items: T[]; error: string | null }

export interface HealthRow {
  name: string
  kind: string
  target: string
  /** `pending` until the first run completes. */
  state: 'ok' | 'failing' | 'pending'
  error: string | null
  latency: number | null
  averageLatency: number | null
  lastCheck: string | null
  checkCount: number
  consecutiveFailures: number
  history: LatencySeries
}

export interface StatusRow {
  slug: string
  active: boolean
  /** SSE subscribers, every instance together. */
  subscribers: number
  pollIntervalSeconds: number
  /** Last good read of the client API (any instance), epoch ms. */
  fetchedAt: number | null
  version: number | null
  units: number | null
  /** This instance's last failed read, while the source keeps failing. */
  failedAt: number | null
  error: string | null
}

export interface InstanceRow {
  instance: string
  self: boolean
  devices: number
  connections: number
  watchers: number
  /** ms since its report arrived. */
  ageMs: number
}

export interface RateLimitRow {
  scope: string
  /** Rejections since each instance started, every instance together. */
  total: number
  perSecond: number
}

export interface Snapshot {
  type: 'dashboard'
  /** Epoch ms. */
  at: number
  instance: string
  engine: { kind: string; state: string }
  instances: InstanceRow[]
  rooms: Section<PoolView>
  jobs: Section<JobRow>
  health: HealthRow[]
  status: Section<StatusRow>
  rateLimits: RateLimitRow[]
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err))

async function section<T>(read: () => Promise<T[]>): Promise<Section<T>> {
  try {
    return { items: await read(), error: null }
  } catch (err) {
    return { items: [], error: message(err) }
  }
}

export async function buildSnapshot(s: SnapshotSources, now = Date.now()): Promise<Snapshot> {
  const reports = s.instances.list(now)
  const [rooms, jobs, status] = await Promise.all([
    section(s.rooms),
    section(() => jobsView(s.engine.jobs, now)),
    section(() => statusRows(s, reports.map((r) => r.report.statusSubscribers))),
  ])
  const rates = new Map<string, RateLimitRow>()
  for (const { report, rejectedPerSecond } of reports) {
    for (const [scope, total] of Object.entries(report.rateLimited)) {
      const row = rates.get(scope) ?? { scope, total: 0, perSecond: 0 }
      row.total += total
      row.perSecond += rejectedPerSecond[scope] ?? 0
      rates.set(scope, row)
    }
  }
  return {
    type: 'dashboard',
    at: now,
    instance: s.engine.instanceId,
    engine: { kind: s.engine.kind, state: s.engine.state() },
    instances: reports.map(({ report: r, receivedAt }) => ({
      instance: r.instance,
      self: r.instance === s.engine.instanceId,
      devices: r.devices,
      connections: r.connections,
      watchers: r.watchers,
      ageMs: Math.max(0, now - receivedAt),
    })),
    rooms,
    jobs,
    health: s.health.all().map((c) => healthRow(c, s.history.series(c.name))),
    status,
    rateLimits: [...rates.values()]
      .map((r) => ({ ...r, perSecond: Math.round(r.perSecond * 100) / 100 }))
      .sort((a, b) => a.scope.localeCompare(b.scope)),
  }
}

function healthRow(c: CheckSnapshot, history: LatencySeries): HealthRow {
  return {
    name: c.name,
    kind: c.kind,
    target: c.target,
    state: c.checkCount === 0 ? 'pending' : c.isHealthy ? 'ok' : 'failing',
    error: c.error,
    latency: c.latency,
    averageLatency: c.averageLatency,
    lastCheck: c.lastCheck,
    checkCount: c.checkCount,
    consecutiveFailures: c.consecutiveFailures,
    history,
  }
}

async function statusRows(s: SnapshotSources, subscribers: ReadonlyArray<Record<string, number>>): Promise<StatusRow[]> {
  const sources = s.status.sources().slice(0, MAX_STATUS_SOURCES)
  return Promise.all(
    sources.map(async (source): Promise<StatusRow> => {
      const cached = source.active ? await s.status.cache.get(source.slug) : undefined
      const failure = source.active ? s.status.failure(source.slug) : undefined
      return {
        slug: source.slug,
        active: source.active,
        subscribers: subscribers.reduce((n, per) => n + (per[source.slug] ?? 0), 0),
        pollIntervalSeconds: source.pollIntervalSeconds,
        fetchedAt: cached?.fetchedAt ?? null,
        version: cached?.version ?? null,
        units: cached ? Object.keys(cached.statuses).length : null,
        failedAt: failure?.at ?? null,
        error: failure?.error ?? null,
      }
    }),
  )
}
