/**
 * `GET /assets/{file}` (seed 000): files from `assets.dir`, without auth, with
 * Range, ETag and Last-Modified (@fastify/send). No path leaves the folder:
 * `..` in any encoding is refused by send, and a symlink that resolves outside
 * the folder is answered 404 like a missing file. No directory listings, no
 * dotfiles.
 */
import { realpathSync } from 'node:fs'
import { resolve, sep } from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'
import { errors } from '../openapi/schemas.js'

const ASSET_SCHEMA = {
  tags: ['assets'],
  summary: 'A file of assets.dir, without auth; Range, ETag and Last-Modified supported',
  response: {
    200: { description: 'The file', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
    206: { description: 'The requested range' },
    ...errors('not_found'),
  },
}

export function insideRoot(root: string, pathname: string): boolean {
  let rel: string
  try {
    rel = decodeURIComponent(pathname)
  } catch {
    return false
  }
  if (rel.includes('\0')) return false
  const full = resolve(root, `.${sep}${rel}`)
  if (full !== root && !full.startsWith(root + sep)) return false
  let real: string
  try {
    real = realpathSync(full)
  } catch {
    return true // missing: send answers 404
  }
  return real === root || real.startsWith(root + sep)
}

export async function registerAssets(app: FastifyInstance, dir: string): Promise<void> {
  const root = realpathSync(dir)
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      // @fastify/static registers ['HEAD', 'GET'] in one route.
      if ([route.method].flat().includes('GET')) route.schema = ASSET_SCHEMA
      else route.schema = { hide: true }
    })
    await scope.register(fastifyStatic, {
    root,
      prefix: '/assets/',
      index: false,
      list: false,
      dotfiles: 'ignore',
      decorateReply: false,
      allowedPath: (pathname) => insideRoot(root, pathname),
    })
  })
}
