/**
 * Two keep-alive lanes per configured service: one for the HTTP proxy, one for
 * WebSocket event calls, so that long uploads or clients that read slowly can
 * never starve the events (and the other way round). Each lane is an undici
 * pool behind a `Slots` admission list. Pools connect lazily: an unused
 * service costs nothing.
 */
import { Pool } from 'undici'
import type { Config, ServiceConfig } from '../config/schema.js'
import { Slots } from './slots.js'

/** A lane lets this many requests per connection wait for a free one; past that it answers `upstream_busy`. */
export const WAITING_PER_CONNECTION = 4

/** Connect attempts fail after this long even when the request timeout is longer. */
const MAX_CONNECT_TIMEOUT_MS = 10_000

export interface Lane {
  readonly pool: Pool
  readonly slots: Slots
}

export interface Upstream {
  readonly name: string
  /** As configured: a reload compares it. */
  readonly url: string
  readonly connections: number
  /** `http://host:port`, what the pools connect to. */
  readonly origin: string
  /** Path of the service URL without its trailing slash ('' for `http://host:port/`). */
  readonly basePath: string
  /** The `Host` header sent upstream. */
  readonly host: string
  readonly proxy: Lane
  readonly events: Lane
}

export class Upstreams {
  private readonly byName = new Map<string, Upstream>()
  /** Closing pools of services a reload changed or removed, until their last requests end. */
  private readonly retired = new Map<Upstream, Promise<void>>()
  private closing: Promise<void> | undefined
  private destroying: Promise<void> | undefined

  constructor(
    services: Config['services'],
    private readonly timeoutMs: number,
  ) {
    this.reload(services)
  }

  get(name: string): Upstream {
    const u = this.byName.get(name)
    // Config validation guarantees every route names a service.
    if (!u) throw new Error(`unknown service ${name}`)
    return u
  }

  /**
   * A config reload: a new or changed service (URL, connections) gets new
   * pools, which every later call takes; the old pools of a changed or
   * removed service close once the requests still on them have ended.
   */
  reload(services: Config['services']): void {
    for (const [name, s] of Object.entries(services)) {
      const current = this.byName.get(name)
      if (current?.url === s.url && current.connections === s.connections) continue
      this.byName.set(name, this.upstream(name, s))
      if (current) this.retire(current)
    }
    for (const [name, u] of this.byName) {
      if (services[name] === undefined) {
        this.byName.delete(name)
        this.retire(u)
      }
    }
  }

  /** Waits for in-flight requests, then closes the sockets. */
  close(): Promise<void> {
    if (this.destroying) return this.destroying
    this.closing ??= Promise.all([...this.pools().map((p) => p.close()), ...this.retired.values()]).then(() => undefined)
    return this.closing
  }

  /** Aborts everything still running (after the drain timeout). Safe before or after close(). */
  destroy(): Promise<void> {
    const retired = [...this.retired.keys()].flatMap((u) => [u.proxy.pool, u.events.pool])
    this.destroying ??= Promise.all([...this.pools(), ...retired].map((p) => p.destroy())).then(() => undefined)
    return this.destroying
  }

  private upstream(name: string, s: ServiceConfig): Upstream {
    const url = new URL(s.url)
    const { timeoutMs } = this
    const lane = (): Lane => ({
      pool: new Pool(url.origin, {
        connections: s.connections,
        pipelining: 1,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        connectTimeout: Math.min(timeoutMs, MAX_CONNECT_TIMEOUT_MS),
      }),
      slots: new Slots(s.connections, s.connections * WAITING_PER_CONNECTION),
    })
    return {
      name,
      url: s.url,
      connections: s.connections,
      origin: url.origin,
      basePath: url.pathname.replace(/\/+$/, ''),
      host: url.host,
      proxy: lane(),
      events: lane(),
    }
  }

  private retire(u: Upstream): void {
    const closed = Promise.all([u.proxy.pool.close(), u.events.pool.close()]).then(
      () => undefined,
      () => undefined,
    )
    this.retired.set(u, closed)
    void closed.then(() => this.retired.delete(u))
  }

  private pools(): Pool[] {
    return [...this.byName.values()].flatMap((u) => [u.proxy.pool, u.events.pool])
  }
}
