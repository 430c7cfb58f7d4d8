/**
 * One undici keep-alive pool per configured service, shared by the HTTP proxy
 * and the event router. Pools connect lazily, so an unused service costs nothing.
 */
import { Pool } from 'undici'
import type { Config } from '../config/schema.js'

export interface Upstream {
  readonly name: string
  /** `http://host:port`, what the pool connects to. */
  readonly origin: string
  /** Path of the service URL without its trailing slash ('' for `http://host:port/`). */
  readonly basePath: string
  /** The `Host` header sent upstream. */
  readonly host: string
  readonly pool: Pool
}

/** Connect attempts fail after this long even when the request timeout is longer. */
const MAX_CONNECT_TIMEOUT_MS = 10_000

export class Upstreams {
  private readonly byName = new Map<string, Upstream>()
  private closing: Promise<void> | undefined
  private destroying: Promise<void> | undefined

  constructor(services: Config['services'], timeoutMs: number) {
    for (const [name, s] of Object.entries(services)) {
      const url = new URL(s.url)
      const pool = new Pool(url.origin, {
        connections: s.connections,
        pipelining: 1,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        connectTimeout: Math.min(timeoutMs, MAX_CONNECT_TIMEOUT_MS),
      })
      this.byName.set(name, {
        name,
        origin: url.origin,
        basePath: url.pathname.replace(/\/+$/, ''),
        host: url.host,
        pool,
      })
    }
  }

  get(name: string): Upstream {
    const u = this.byName.get(name)
    // Config validation guarantees every route names a service.
    if (!u) throw new Error(`unknown service ${name}`)
    return u
  }

  /** Waits for in-flight requests, then closes the sockets. */
  close(): Promise<void> {
    if (this.destroying) return this.destroying
    this.closing ??= Promise.all([...this.byName.values()].map((u) => u.pool.close())).then(() => undefined)
    return this.closing
  }

  /** Aborts everything still running (after the drain timeout). Safe before or after close(). */
  destroy(): Promise<void> {
    this.destroying ??= Promise.all([...this.byName.values()].map((u) => u.pool.destroy())).then(() => undefined)
    return this.destroying
  }
}
