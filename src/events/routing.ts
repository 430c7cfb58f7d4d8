/**
 * The ordered routing table: the first route with a matching pattern names the
 * service. A pattern is an exact event name, a prefix ending in `.*`, or `*`.
 */
import type { EventRouteConfig } from '../config/schema.js'

interface CompiledRoute {
  exact: Set<string>
  prefixes: string[]
  any: boolean
  service: string
}

export class EventRouter {
  private routes: CompiledRoute[] = []

  constructor(routes: readonly EventRouteConfig[]) {
    this.reload(routes)
  }

  /** A config reload: the next event is routed by the new table. */
  reload(routes: readonly EventRouteConfig[]): void {
    this.routes = routes.map((r) => ({
      exact: new Set(r.match.filter((p) => !p.endsWith('*'))),
      // `lobby.*` keeps its dot: it matches `lobby.create`, never `lobbyist`.
      prefixes: r.match.filter((p) => p.endsWith('.*')).map((p) => p.slice(0, -1)),
      any: r.match.includes('*'),
      service: r.service,
    }))
  }

  /** The service for `event`, or undefined when no route matches. */
  match(event: string): string | undefined {
    for (const r of this.routes) {
      if (r.any || r.exact.has(event)) return r.service
      for (const p of r.prefixes) if (event.length > p.length && event.startsWith(p)) return r.service
    }
    return undefined
  }
}
