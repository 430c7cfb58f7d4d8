/**
 * `GET /client.js`: the device client (src/client/index.ts), built, for a page
 * that loads it without a bundler: `import { RoomgateClient } from '/client.js'`.
 * Read once from dist/ (the package ships it built); a 404 in a checkout that
 * was never built.
 */
import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { RoomgateError } from './errors.js'
import { errors } from './openapi/schemas.js'

/** From src/ (tests) and from dist/ alike: the package root's dist/client/index.js. */
const BUILT = new URL('../dist/client/index.js', import.meta.url)

export function registerClientRoute(app: FastifyInstance): void {
  let source: string | undefined
  try {
    // Without the source map comment: the map is not served.
    source = readFileSync(BUILT, 'utf8').replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n')
  } catch {
    source = undefined
  }
  app.get(
    '/client.js',
    {
      schema: {
        tags: ['realtime'],
        summary: 'The device client library (ES module): reconnect, recover, request/response, tokens',
        response: { 200: { description: 'JavaScript', content: { 'text/javascript': { schema: { type: 'string' } } } }, ...errors('not_found') },
      },
    },
    async (_request, reply) => {
      if (source === undefined) throw new RoomgateError('client_not_built')
      return reply.header('content-type', 'text/javascript; charset=utf-8').header('cache-control', 'public, max-age=300').send(source)
    },
  )
}
