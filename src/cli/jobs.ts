/**
 * `roomgate jobs submit|list|get|cancel`: seed 002's cache job API
 * (/api/v1/cache/jobs, X-API-Key). Paths are the server's: relative to its
 * `jobs.root`, or under one of its mount prefixes.
 */
import type { FileEvent } from '../jobs/events.js'
import type { JobView, listEntry } from '../jobs/view.js'
import { Client } from './client.js'
import { EXIT, interruption, usageError } from './exit.js'
import { didYouMean } from '../config/suggest.js'
import { fields, filesWord, printJson, readableSize, table, when } from './format.js'
import { connection, onlyOptions, positiveInt, type Values } from './options.js'
import { ProgressView, stdoutTerminal } from './progress.js'
import { isEnded, watchJob } from './watch.js'

type ListEntry = ReturnType<typeof listEntry>

interface Created {
  jobId: string
  status: string
  totalFiles: number
  totalSize: { bytes: number; readable: string }
  notFound?: string[]
}

const BASE = '/api/v1/cache/jobs'
const STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled']
/** The server's largest page: a status filter looks among this many of the newest jobs. */
const LIST_MAX = 1_000

export async function jobsCommand(sub: string | undefined, args: string[], values: Values): Promise<number> {
  switch (sub) {
    case 'submit':
      onlyOptions(values, 'jobs submit', ['url', 'key', 'timeout', 'json', 'dir', 'watch'])
      if (args.length === 0) throw usageError('jobs submit needs at least one PATH (a server path under its jobs.root)')
      return submit(new Client(connection(values)), args, values)
    case 'list':
      onlyOptions(values, 'jobs list', ['url', 'key', 'timeout', 'json', 'status', 'limit'])
      if (args.length > 0) throw usageError(`jobs list takes no arguments, got ${JSON.stringify(args[0])}`)
      return list(new Client(connection(values)), values)
    case 'get':
    case 'cancel': {
      onlyOptions(values, `jobs ${sub}`, sub === 'get' ? ['url', 'key', 'timeout', 'json', 'watch'] : ['url', 'key', 'timeout', 'json'])
      const id = args[0]
      if (id === undefined || args.length > 1) throw usageError(`jobs ${sub} needs exactly one job ID`)
      const client = new Client(connection(values))
      return sub === 'get' ? get(client, id, values) : cancel(client, id, values)
    }
    default:
      throw usageError(sub === undefined ? 'jobs needs a subcommand: submit, list, get or cancel' : `unknown jobs subcommand ${JSON.stringify(sub)}${didYouMean(sub, ['submit', 'list', 'get', 'cancel'])}`)
  }
}

async function submit(client: Client, paths: string[], values: Values): Promise<number> {
  const body = values.dir ? { directories: paths } : { files: paths }
  const created = await client.json<Created>(BASE, { method: 'POST', body, auth: 'key' })
  if (values.json) printJson(values.watch ? { event: 'job.created', data: created } : created)
  else {
    console.log(created.jobId)
    console.error(`roomgate: job created: ${created.totalFiles} ${filesWord(created.totalFiles)}, ${created.totalSize.readable} (${created.status})`)
  }
  for (const missing of created.notFound ?? []) console.error(`roomgate: not found on the server: ${missing}`)
  return values.watch ? watch(client, created.jobId, values.json === true) : EXIT.ok
}

async function watch(client: Client, id: string, json: boolean): Promise<number> {
  const view = json ? undefined : new ProgressView(stdoutTerminal())
  const stop = interruption()
  let job: JobView | undefined
  try {
    job = await watchJob(client, id, stop.signal, {
      job(j) {
        if (view) view.update(j)
        else printJson({ event: 'job.progress', data: j })
      },
      file(f: FileEvent) {
        if (json) printJson({ event: 'job.file', data: f })
        else if (f.status === 'failed') view?.note(`failed: ${f.path}${f.error ? ` (${f.error})` : ''}`)
      },
      fallback(reason) {
        console.error(`roomgate: live updates unavailable (${reason}); polling every second`)
      },
    })
  } finally {
    stop.dispose()
    view?.finish()
  }
  if (!job) {
    console.error(`roomgate: stopped watching; job ${id} goes on (roomgate jobs get ${id} --watch)`)
    return EXIT.interrupted
  }
  if (!json) console.log(summary(job))
  return job.status === 'completed' ? EXIT.ok : EXIT.failed
}

function elapsed(job: JobView): string {
  if (!job.startedAt || !job.completedAt) return ''
  const s = (Date.parse(job.completedAt) - Date.parse(job.startedAt)) / 1000
  return ` in ${s.toFixed(1)} s`
}

/** `job … completed: 3 of 3 files, 192.0 KB in 2.1 s` (and the job's error, if any). */
export function summary(job: JobView): string {
  const { files, size } = job.progress
  const failed = files.failed > 0 ? `, ${files.failed} failed` : ''
  return `job ${job.id} ${job.status}: ${files.completed} of ${files.total} ${filesWord(files.total)}${failed}, ${size.completedReadable}${elapsed(job)}${job.error ? ` (${job.error})` : ''}`
}

async function list(client: Client, values: Values): Promise<number> {
  const limit = positiveInt('limit', values.limit, LIST_MAX) ?? 100
  const status = values.status
  if (status !== undefined && !STATUSES.includes(status)) throw usageError(`--status must be one of ${STATUSES.join(', ')}`)
  // The API has no status filter: look among the newest LIST_MAX and keep `limit`.
  const answer = await client.json<{ success: boolean; jobs: ListEntry[]; total: number }>(`${BASE}?limit=${status ? LIST_MAX : limit}`, { auth: 'key' })
  const jobs = (status ? answer.jobs.filter((j) => j.status === status) : answer.jobs).slice(0, limit)
  if (values.json) {
    printJson({ ...answer, jobs, total: jobs.length })
    return EXIT.ok
  }
  if (jobs.length === 0) {
    console.log(status ? `no ${status} jobs` : 'no jobs')
    return EXIT.ok
  }
  console.log(
    table(
      ['ID', 'STATUS', 'FILES', 'SIZE', 'CREATED'],
      jobs.map((j) => [
        j.id,
        j.status,
        `${j.completedFiles + j.failedFiles}/${j.totalFiles}${j.failedFiles > 0 ? ` (${j.failedFiles} failed)` : ''}`,
        `${j.completedSizeReadable} / ${j.totalSizeReadable}`,
        when(j.createdAt),
      ]),
    ),
  )
  return EXIT.ok
}

async function get(client: Client, id: string, values: Values): Promise<number> {
  const answer = await client.json<{ success: boolean; job: JobView }>(`${BASE}/${encodeURIComponent(id)}`, { auth: 'key' })
  if (values.watch && !isEnded(answer.job)) return watch(client, answer.job.id, values.json === true)
  if (values.json) printJson(answer)
  else console.log(describeJob(answer.job))
  return values.watch && answer.job.status !== 'completed' ? EXIT.failed : EXIT.ok
}

export function describeJob(job: JobView): string {
  const { files, size } = job.progress
  return fields([
    ['id', job.id],
    ['status', job.status],
    ['files', `${files.completed + files.failed}/${files.total}${files.failed > 0 ? ` (${files.failed} failed)` : ''}  ${files.percentage}%`],
    ['size', `${readableSize(size.completedBytes)} / ${readableSize(size.totalBytes)}  ${size.percentage}%`],
    ['throughput', job.throughput?.readable],
    ['created', when(job.createdAt)],
    ['started', when(job.startedAt)],
    ['completed', when(job.completedAt)],
    ['error', job.error ?? undefined],
  ])
}

async function cancel(client: Client, id: string, values: Values): Promise<number> {
  const answer = await client.json<{ success: boolean; message: string }>(`${BASE}/${encodeURIComponent(id)}`, { method: 'DELETE', auth: 'key' })
  if (values.json) printJson(answer)
  else console.log(`job ${id} cancelled`)
  return EXIT.ok
}
