/**
 * `GET /`: a browser goes to the dashboard; anything else gets a short index
 * of where to go (the dashboard, the API docs, the probes), not a 404.
 */
import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { DOCS_PREFIX } from './openapi/index.js'
import { VERSION } from './version.js'

const Index = Type.Object({
  service: Type.Literal('roomgate'),
  version: Type.String(),
  dashboard: Type.String({ description: 'The live dashboard (HTML)' }),
  docs: Type.String({ description: 'The API reference (Swagger UI); its OpenAPI document is at /docs/json' }),
  openapi: Type.String(),
  health: Type.String(),
  ready: Type.String(),
})

export function registerHome(app: FastifyInstance, { metrics }: { metrics: boolean }): void {
  const index = {
    service: 'roomgate' as const,
    version: VERSION,
    dashboard: '/dashboard',
    docs: DOCS_PREFIX,
    openapi: `${DOCS_PREFIX}/json`,
    health: '/healthz',
    ready: '/readyz',
    ...(metrics ? { metrics: '/metrics' } : {}),
  }
  const schema = {
    tags: ['probes'],
    summary: 'Where to go: a browser (Accept: text/html) is sent to /dashboard, anything else gets this index',
    response: { 200: Type.Object({ ...Index.properties, metrics: Type.Optional(Type.String()) }), 302: Type.Null({ description: 'To /dashboard' }) },
  }
  app.get('/', { schema }, async (request, reply) => {
    if ((request.headers.accept ?? '').includes('text/html')) return reply.redirect('./dashboard', 302)
    return index
  })
}
