/**
 * The proxy's routes as the last config reload left them. A request goes to
 * the route with the longest prefix that is its path or a parent of it
 * (`/v1/jobs` takes `/v1/jobs`, `/v1/jobs/1` and `/v1/jobs?x`, never
 * `/v1/jobsx`). A reload replaces the whole table; a request keeps the route
 * it matched.
 */
import type { FastifyServerOptions, onRequestHookHandler } from 'fastify'
import type { ProxyRouteConfig } from '../config/schema.js'
import type { CounterChild, HistogramChild } from '../metrics/registry.js'

export interface ProxyRoute {
  /** Without a trailing slash. */
  readonly prefix: string
  readonly service: string
  /** The route's credential check; undefined for `auth: none`. */
  readonly guard: onRequestHookHandler | undefined
  readonly latency: HistogramChild
  /** The route's answers counted by status (`roomgate_proxy_requests_total`), each series resolved once. */
  answered(status: number): CounterChild
}

type ConstraintStrategy = NonNullable<NonNullable<FastifyServerOptions['routerOptions']>['constraints']>[string]

const SLASH = 0x2f
const QUESTION_MARK = 0x3f

export class ProxyTable {
  private routes: readonly ProxyRoute[] = []

  replace(routes: readonly ProxyRoute[]): void {
    this.routes = [...routes].sort((a, b) => b.prefix.length - a.prefix.length)
  }

  /** The route for a request target (path and query), or undefined. */
  match(url: string): ProxyRoute | undefined {
    for (const route of this.routes) {
      if (!url.startsWith(route.prefix)) continue
      const next = url.charCodeAt(route.prefix.length)
      if (Number.isNaN(next) || next === SLASH || next === QUESTION_MARK) return route
    }
    return undefined
  }

  /**
   * Fastify takes no route once it listens, so the prefixes a reload adds are
   * served by a catch-all route constrained with this (`constraints: {proxied: 'yes'}`):
   * it matches only a path the table serves now, and any other stays a plain 404.
   */
  constraint(): ConstraintStrategy {
    return {
      name: 'proxied',
      storage() {
        const handlers = new Map()
        return {
          get: (value) => handlers.get(value) ?? null,
          set: (value, handler) => {
            handlers.set(value, handler)
          },
        }
      },
      deriveConstraint: (req) => (this.match(req.url ?? '') ? 'yes' : 'no'),
      validate(value) {
        if (value !== 'yes') throw new Error("the proxied constraint takes 'yes'")
      },
    }
  }
}

/** The prefix a configured route matches: `/v1/jobs/` is `/v1/jobs`. */
export const routePrefix = (route: ProxyRouteConfig): string => route.prefix.replace(/\/+$/, '')
