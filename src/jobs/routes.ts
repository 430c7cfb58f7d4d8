/**
 * Seed 002's job API: POST/GET /api/v1/cache/jobs and GET/DELETE
 * /api/v1/cache/jobs/{id}, behind `X-API-Key` and a per-key rate limit, with
 * the seed's response shapes and its error messages word for word.
 */
import { randomUUID } from 'node:crypto'
import Type from 'typebox'
import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { RoomgateError } from '../errors.js'
import { StorageStalled, type FsLane } from './fs-lane.js'
import { rootError } from './root-watch.js'
import { JOB_ID, type JobStore } from './types.js'
import { PathError, resolveJobFiles, TooManyFiles } from './walk.js'
import { jobSchemas } from './schemas.js'
import { jobView, listEntry, readableSize } from './view.js'

const MAX_INPUTS = 10_000
const MAX_PATH = 4_096
/** Inputs that matched nothing, echoed back at most. */
const MAX_MISSING_SHOWN = 100
const LIST_LIMIT_MAX = 1_000

const Paths = Type.Array(Type.String({ maxLength: MAX_PATH }), { maxItems: MAX_INPUTS })
const CreateBody = Type.Object(
  { files: Type.Optional(Paths), directories: Type.Optional(Paths), recursive: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
)
const ListQuery = Type.Object({ limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })) })

export interface JobRoutesDeps {
  store: JobStore
  /** jobs.root, or undefined when new jobs are refused. */
  root: string | undefined
  /** Where the walk's fs calls run, under jobs.fsTimeoutMs. */
  lane: FsLane
  mountPrefixes: readonly string[]
  maxFiles: number
  maxQueued: number
  retentionMs: number
  /** Per-IP limit, the API key check, the per-key limit, in that order. */
  onRequest: { read: onRequestHookHandler[]; write: onRequestHookHandler[] }
  backend: () => { bps: number; at: number } | null
  created: (files: number) => void
  cancelled: (id: string) => void
}

function jobId(params: unknown): string {
  const id = (params as { id: string }).id
  if (!JOB_ID.test(id)) throw new RoomgateError('job_id_invalid')
  return id.toLowerCase()
}

export function registerJobRoutes(app: FastifyInstance, d: JobRoutesDeps): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>()
  const reads = { onRequest: d.onRequest.read }
  const writes = { onRequest: d.onRequest.write }
  const schema = jobSchemas(CreateBody, ListQuery)

  api.post('/api/v1/cache/jobs', { ...writes, schema: schema.create }, async (request, reply) => {
    if (d.root === undefined) throw new RoomgateError('jobs_not_configured')
    const body = request.body ?? {}
    const files = body.files ?? []
    const directories = body.directories ?? []
    if (files.length + directories.length === 0) {
      throw new RoomgateError('job_paths_missing')
    }
    let found
    try {
      found = await resolveJobFiles(
        { files, directories, recursive: body.recursive ?? true },
        { root: d.root, lane: d.lane, mountPrefixes: d.mountPrefixes, maxFiles: d.maxFiles },
      )
    } catch (err) {
      if (err instanceof PathError) throw new RoomgateError('job_path_invalid', { reason: err.message })
      if (err instanceof TooManyFiles) throw new RoomgateError('job_too_many_files', { max: err.max })
      // A call that passed jobs.fsTimeoutMs (its path and the deadline are in the message), or a lane full of them.
      if (err instanceof StorageStalled) {
        request.log.error({ root: d.root, err: err.message }, 'cache root stalled')
        throw err.refusal
      }
      // The root missing, or the mount failing (EIO, ESTALE, ETIMEDOUT…): the storage's trouble, not the client's.
      if ((err as NodeJS.ErrnoException).code !== undefined) {
        request.log.error({ root: d.root, err: (err as Error).message }, 'cache root cannot be read')
        throw new RoomgateError('storage_root_unreadable', { root: d.root, cause: rootError(err) })
      }
      throw err
    }
    if (found.files.length === 0) throw new RoomgateError('job_no_files')
    // The cap is checked inside the store's create: a count here first would let racing requests (and instances) pass it.
    const job = await d.store.create(
      randomUUID(),
      found.files.map((f) => ({ rel: f.rel, size: f.size })),
      d.maxQueued,
    )
    if (job === 'full') throw new RoomgateError('queue_full')
    d.created(job.totalFiles)
    request.log.info({ job: job.id, files: job.totalFiles, bytes: job.totalBytes }, 'cache job created')
    void reply.code(201)
    return {
      success: true as const,
      jobId: job.id,
      status: job.status,
      totalFiles: job.totalFiles,
      totalSize: { bytes: job.totalBytes, readable: readableSize(job.totalBytes) },
      ...(found.missing.length > 0 ? { notFound: found.missing.slice(0, MAX_MISSING_SHOWN) } : {}),
      message: 'Cache job created successfully',
      createdAt: new Date(job.createdAt).toISOString(),
    }
  })

  api.get('/api/v1/cache/jobs', { ...reads, schema: schema.list }, async (request) => {
    const limit = Math.min(LIST_LIMIT_MAX, Math.max(1, Number(request.query.limit ?? 100)))
    const jobs = await d.store.list(limit)
    return { success: true as const, jobs: jobs.map(listEntry), total: jobs.length }
  })

  api.get('/api/v1/cache/jobs/:id', { ...reads, schema: schema.get }, async (request) => {
    const job = await d.store.get(jobId(request.params))
    if (!job) throw new RoomgateError('job_not_found')
    return { success: true as const, job: jobView(job, d.backend()) }
  })

  api.delete('/api/v1/cache/jobs/:id', { ...writes, schema: schema.cancel }, async (request) => {
    const id = jobId(request.params)
    const result = await d.store.cancel(id, d.retentionMs)
    if (!result) throw new RoomgateError('job_not_found')
    if (!result.changed) throw new RoomgateError('job_already', { status: result.job.status })
    d.cancelled(id)
    return { success: true as const, message: 'Job cancelled successfully' }
  })
}
