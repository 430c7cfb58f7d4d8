/**
 * The dashboard's page: plain files from `public/dashboard/` and uPlot from
 * its npm package, read once at start, served by roomgate itself (no CDN:
 * operators' networks often have no way out). Every answer carries a strict
 * Content-Security-Policy: scripts and styles only from roomgate, no inline
 * code, connections only to roomgate and its /ws. The page holds no data: it
 * is served without credentials and asks for one before anything is shown.
 */
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { RoomgateError } from '../errors.js'
import type { Logger } from '../log.js'
import { errors } from '../openapi/schemas.js'

/** Next to dist/ and src/ alike: both are one level below the package root. */
const PUBLIC_DIR = fileURLToPath(new URL('../../public/dashboard/', import.meta.url))

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

const TYPES = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
} as const

interface StaticFile {
  body: Buffer
  type: string
  etag: string
}

const NOT_MODIFIED = { 304: { description: 'Unchanged (If-None-Match)' } }
const PAGE_SCHEMA = {
  tags: ['dashboard'],
  summary: 'The live dashboard page (it asks for a token or key, then follows /ws `dashboard.subscribe`)',
  response: { 200: { description: 'The page', content: { 'text/html': { schema: { type: 'string' } } } }, ...NOT_MODIFIED, ...errors('not_found') },
}
const FILE_SCHEMA = {
  tags: ['dashboard'],
  summary: "A script or style of the dashboard's page",
  params: { type: 'object', properties: { file: { type: 'string' } }, required: ['file'] },
  response: {
    200: { description: 'The file', content: { 'text/javascript': { schema: { type: 'string' } }, 'text/css': { schema: { type: 'string' } } } },
    ...NOT_MODIFIED,
    ...errors('not_found'),
  },
}

const extension = (name: string) => name.slice(name.lastIndexOf('.') + 1)

/** URL name → where it is read from: every page file, and uPlot's two. */
function sources(): Record<string, string> {
  const require = createRequire(import.meta.url)
  const out: Record<string, string> = {}
  for (const name of readdirSync(PUBLIC_DIR)) if (Object.hasOwn(TYPES, extension(name))) out[name] = `${PUBLIC_DIR}${name}`
  out['uPlot.iife.min.js'] = require.resolve('uplot/dist/uPlot.iife.min.js')
  out['uPlot.min.css'] = require.resolve('uplot/dist/uPlot.min.css')
  return out
}

function loadFiles(log: Logger): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>()
  try {
    for (const [name, path] of Object.entries(sources())) {
      const body = readFileSync(path)
      const ext = extension(name) as keyof typeof TYPES
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`
      files.set(name, { body, type: TYPES[ext], etag })
    }
  } catch (err) {
    log.error({ err: (err as Error).message }, 'dashboard files cannot be read: GET /dashboard answers 404')
    files.clear()
  }
  return files
}

export function registerDashboardPage(app: FastifyInstance, log: Logger): void {
  const files = loadFiles(log)

  const send = (name: string, request: FastifyRequest, reply: FastifyReply) => {
    const file = files.get(name)
    if (!file) throw new RoomgateError(files.size === 0 ? 'dashboard_files_missing' : 'not_found')
    void reply
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .header('etag', file.etag)
    if (request.headers['if-none-match'] === file.etag) return reply.code(304).send()
    return reply.type(file.type).send(file.body)
  }

  const page = { schema: PAGE_SCHEMA }
  app.get('/dashboard', page, async (request, reply) => send('index.html', request, reply))
  app.get('/dashboard/', { schema: { hide: true } }, async (request, reply) => send('index.html', request, reply))
  app.get('/dashboard/:file', { schema: FILE_SCHEMA }, async (request, reply) => {
    const name = (request.params as { file: string }).file
    return send(name, request, reply)
  })
}
