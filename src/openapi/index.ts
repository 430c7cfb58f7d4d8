/**
 * The OpenAPI 3.1 document of every HTTP route, built from the schemas the
 * routes declare, at `/docs/json` (and `/docs/yaml`), with a browsable page at
 * `/docs`. Register before any route: the document is collected as routes are
 * added. The WebSocket protocol (seed 001) is described under
 * `components.schemas` (Ws*), since OpenAPI has no words for it.
 *
 * Response schemas document; they do not filter. Replies are serialised with
 * JSON.stringify, so a field missing from a schema is never silently dropped
 * (test/integration/openapi.test.ts checks real answers against the document).
 */
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import { FEED_WS_SCHEMAS } from '../feed/schemas.js'
import { ErrorBody } from './schemas.js'
import type { LocalEvents } from '../realtime/local-events.js'
import { eventSchemaId, WS_SCHEMAS } from './ws.js'

export const DOCS_PREFIX = '/docs'

/**
 * The shared schemas the routes refer to, and JSON.stringify as the
 * serialiser: needed whether or not the document is served.
 */
export function registerSchemas(app: FastifyInstance): void {
  app.setSerializerCompiler(() => (data) => JSON.stringify(data))
  app.addSchema(ErrorBody)
  for (const schema of [...WS_SCHEMAS, ...FEED_WS_SCHEMAS]) app.addSchema(schema)
}

/** One component per local /ws event (`WsRoomJoin` for `room.join`): its `data`, from the schema that checks it. */
export function registerEventSchemas(app: FastifyInstance, local: LocalEvents): void {
  for (const e of local.list()) {
    app.addSchema({ ...e.schema, $id: eventSchemaId(e.name), description: `\`${e.name}\`: ${e.summary}` })
  }
}

/** The document and its page (docs.enabled); after registerSchemas, before any route. */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'roomgate',
        version,
        description:
          'The HTTP API of a roomgate instance. Errors always have the body ' +
          '`{"success": false, "error": "<message>", "code": "<code>"}`. ' +
          'The WebSocket protocol on `/ws` is described by the Ws* schemas.',
      },
      tags: [
        { name: 'probes', description: 'Liveness, readiness, Prometheus metrics' },
        { name: 'realtime', description: 'WebSocket gateway and internal broadcast (seed 001)' },
        { name: 'rooms', description: 'Room placement: recording gateways (seed 000) and media servers (seed 003)' },
        { name: 'jobs', description: 'Cache-warming jobs (seed 002)' },
        { name: 'health', description: 'Health, metrics and upstream checks (seed 002)' },
        { name: 'status', description: 'Public client status API with SSE (seed 004)' },
        { name: 'proxy', description: 'HTTP routes proxied to backend services' },
        { name: 'assets', description: 'Static files (seed 000)' },
        { name: 'dashboard', description: 'The live operator dashboard' },
      ],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'A token of `auth.bearerTokens`' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'A key of `auth.apiKeys`' },
          internalToken: { type: 'apiKey', in: 'header', name: 'X-Internal-Token', description: '`auth.internalToken`' },
          deviceToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A device token, checked with the keys of `auth.devices`' },
        },
      },
    },
    // Shared schemas keep their own names under components.schemas.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  })
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX, uiConfig: { deepLinking: true, tryItOutEnabled: false } })
}
