/**
 * Reading a status source: from the shared cache while it is fresh
 * (`cacheTtlSeconds`), else from the client's API, one read at a time per
 * slug on this instance (concurrent callers share it). When the client API
 * fails, the last good statuses are served, marked stale, and the API is not
 * asked again for a cache period (public traffic must not hammer a failing
 * API); the failure is logged once, and its recovery, never with the
 * credentials.
 *
 * Whoever writes a new version announces it, here and only here: a change
 * first seen by a GET, a new subscriber, a refresh or the poller reaches
 * every subscriber the same way, as a `bulk_update` with what changed, or a
 * full `status_update` (a refresh, a first read, or units that disappeared).
 */
import type { StatusSourceConfig } from '../config/status-schema.js'
import { RoomgateError } from '../errors.js'
import type { Engine } from '../engine/types.js'
import { channels } from '../engine/keys.js'
import type { Logger } from '../log.js'
import type { Counter } from '../metrics/registry.js'
import { fetchStatuses } from './fetch.js'
import type { StatusSnapshot } from './types.js'
import { changesBetween, sortedStatuses } from './units.js'

export interface Current {
  statuses: Record<string, string>
  fetchedAt: number | null
  version: number
  /** True when the client API could not be read and older statuses (or none) are shown. */
  stale: boolean
}

/** What goes over the bus to every instance's subscribers. */
export interface StatusMessage {
  event: 'status_update' | 'bulk_update'
  id: number
  data: { statuses: Record<string, string> } | { updates: Record<string, string> }
}

/** Compare-and-set attempts before a read gives up writing (another writer keeps winning, and announces). */
const PUT_ATTEMPTS = 3

export class StatusService {
  private readonly reading = new Map<string, Promise<StatusSnapshot>>()
  /** Slugs whose last read failed, and when (epoch ms). */
  private readonly failedAt = new Map<string, number>()
  /** Why the last read of a failing slug failed (safe to show: no credentials, as in the log). */
  private readonly failedWith = new Map<string, string>()

  constructor(
    private readonly engine: Engine,
    /** status.sources by slug, as the last reload left them. */
    private readonly sources: ReadonlyMap<string, StatusSourceConfig>,
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: Logger,
    private readonly fetches: Counter,
  ) {}

  source(slug: string): StatusSourceConfig | undefined {
    const s = this.sources.get(slug)
    return s?.active ? s : undefined
  }

  /** This instance's last failed read of `slug` (epoch ms and why), while the source keeps failing. */
  failure(slug: string): { at: number; error: string } | undefined {
    const at = this.failedAt.get(slug)
    return at === undefined ? undefined : { at, error: this.failedWith.get(slug) ?? 'failed' }
  }

  /** Fresh statuses from the cache, or from the client API; stale ones if it fails or failed a moment ago. */
  async current(slug: string): Promise<Current> {
    const ttl = this.known(slug).cacheTtlSeconds * 1000
    const cached = await this.engine.statusCache.get(slug)
    if (cached && Date.now() - cached.fetchedAt < ttl) return view(cached, false)
    if (Date.now() - (this.failedAt.get(slug) ?? 0) < ttl) return stale(cached)
    try {
      return view(await this.read(slug, false), false)
    } catch {
      return stale(await this.engine.statusCache.get(slug).catch(() => cached))
    }
  }

  /**
   * Reads the client API, stores the answer and announces a new version.
   * `force` (a refresh) always takes a new version and announces every status.
   * Concurrent reads of one slug share one request; a poller's read (with a
   * `signal`, aborted when it stops leading) is never shared, so nobody else
   * sees its cancellation.
   */
  read(slug: string, force: boolean, signal?: AbortSignal): Promise<StatusSnapshot> {
    if (signal) return this.readOnce(slug, force, signal)
    const key = `${slug}\n${force}`
    let pending = this.reading.get(key)
    if (!pending) {
      pending = this.readOnce(slug, force).finally(() => this.reading.delete(key))
      this.reading.set(key, pending)
    }
    return pending
  }

  private async readOnce(slug: string, force: boolean, signal?: AbortSignal): Promise<StatusSnapshot> {
    const source = this.known(slug)
    let answer
    try {
      answer = await fetchStatuses({ source, env: this.env, ...(signal ? { signal } : {}) })
    } catch (err) {
      if (signal?.aborted) throw err // the poller stopped: not the source's failure
      this.fetches.child(slug, 'failed').inc()
      if (!this.failedAt.has(slug)) this.log.warn({ slug, err: (err as Error).message }, 'status source cannot be read; serving the last good statuses')
      this.failedAt.set(slug, Date.now())
      this.failedWith.set(slug, (err as Error).message)
      throw err
    }
    this.fetches.child(slug, 'ok').inc()
    // In unit-id order, the order every instance rebuilds a version in.
    const statuses = sortedStatuses(Object.entries(answer.statuses))
    if (this.failedAt.delete(slug)) this.log.info({ slug }, 'status source readable again')
    this.failedWith.delete(slug)
    const fetchedAt = Date.now()
    for (let attempt = 1; ; attempt++) {
      const previous = await this.engine.statusCache.get(slug)
      const { set: changes, gone } = changesBetween(previous?.statuses ?? {}, statuses)
      const removed = gone.length > 0
      const changed = Object.keys(changes).length > 0 || removed
      const put = await this.engine.statusCache.put(slug, previous, statuses, fetchedAt, force || changed)
      if (put.ok) {
        const { snapshot } = put
        if (snapshot.version !== previous?.version) {
          const full = force || removed || !previous
          await this.announce(slug, {
            event: full ? 'status_update' : 'bulk_update',
            id: snapshot.version,
            data: full ? { statuses: snapshot.statuses } : { updates: changes },
          })
        }
        return snapshot
      }
      if (attempt >= PUT_ATTEMPTS) return put.current ?? { statuses, fetchedAt, version: 0 }
    }
  }

  /** The source a route checked a moment ago; a reload may have removed it since. */
  private known(slug: string): StatusSourceConfig {
    const source = this.sources.get(slug)
    if (!source) throw new RoomgateError('project_not_found')
    return source
  }

  private async announce(slug: string, message: StatusMessage): Promise<void> {
    try {
      await this.engine.bus.publish(channels.status(slug), JSON.stringify(message))
    } catch (err) {
      // Subscribers catch up: a stream that sees a gap in the ids asks for the whole snapshot.
      this.log.warn({ slug, err: (err as Error).message }, 'status change not announced (bus unavailable)')
    }
  }
}

function view(s: StatusSnapshot, isStale: boolean): Current {
  return { statuses: s.statuses, fetchedAt: s.fetchedAt, version: s.version, stale: isStale }
}

function stale(cached: StatusSnapshot | undefined): Current {
  return cached ? view(cached, true) : { statuses: {}, fetchedAt: null, version: 0, stale: true }
}
