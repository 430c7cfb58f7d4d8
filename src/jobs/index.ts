/**
 * The jobs capability (seed 002): the cache job API, the worker that warms the
 * cache, job events over /ws (`job.subscribe`), and the read throughput that
 * stands in for the seed's "LucidLink stats" when no backend reports them.
 */
import Type from 'typebox'
import { hash } from 'node:crypto'
import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import { credentialGuard } from '../auth/credentials.js'
import type { FailureBudget } from '../auth/failures.js'
import type { AuthSecrets } from '../auth/tokens.js'
import type { Config } from '../config/schema.js'
import type { Engine } from '../engine/types.js'
import { RoomgateError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Counter, CounterChild, Registry } from '../metrics/registry.js'
import { ipRateLimit } from '../ratelimit/http.js'
import { verifyClient } from '../realtime/credentials.js'
import type { Realtime } from '../realtime/index.js'
import { Bandwidth } from './bandwidth.js'
import { ALL_JOBS, JobEvents } from './events.js'
import { FsLane } from './fs-lane.js'
import { JOB_ID } from './types.js'
import { ReadPool } from './read-pool.js'
import { RootWatch } from './root-watch.js'
import { registerJobRoutes } from './routes.js'
import { checkProcFd } from './under-root.js'
import { FRESH_MS, jobView } from './view.js'
import { JobWorker } from './worker.js'

export interface JobsDeps {
  config: Config
  engine: Engine
  realtime: Realtime
  registry: Registry
  log: Logger
  /** The per-IP HTTP limit (before the key check, so key guessing is limited too). */
  ipRateLimit: onRequestHookHandler
  /** The client IPs' budget of wrong credentials. */
  failedAuth: FailureBudget
  /** auth.apiKeys, as a reload leaves them. */
  secrets: AuthSecrets
  rateLimited: Counter
  /** Throughput reported by the backend (BACKEND_WS_URL), when fresh. */
  backend: () => { bps: number; at: number } | null
}

export type StorageView =
  | { storage: 'readable' | 'not_configured' | 'checking' }
  | { storage: 'unreadable'; storageError: string }

export interface Jobs {
  events: JobEvents
  /** Read throughput of the cluster's workers (bytes/s) and when it was last reported, or null when none is fresh. */
  workerRate(): { bps: number; at: number } | null
  /** jobs.root on this instance: `readable`, `unreadable` (with why), `not_configured`, or `checking` before the first look ends. */
  storage(): StorageView
  start(): Promise<void>
  close(): Promise<void>
}

/** Seed 002's words for a refused request. */

export function registerJobs(app: FastifyInstance, deps: JobsDeps): Jobs {
  const { config, engine, registry } = deps
  const { jobs } = config
  const log = deps.log.child({ capability: 'jobs' })
  const retentionMs = jobs.retentionSeconds * 1000
  // Every file is opened through /proc/self/fd: without it no job could run, so the start fails instead.
  if (jobs.root !== undefined) checkProcFd()
  // Every fs call of the jobs on libuv's threads (walk, root, paced reads) runs here, under jobs.fsTimeoutMs.
  const lane = new FsLane({ timeoutMs: jobs.fsTimeoutMs })

  const created = registry.counter('roomgate_jobs_created_total', 'Cache jobs created')
  const finished = registry.counter('roomgate_jobs_finished_total', 'Cache jobs that ended, by status', ['status'])
  const fileResults = registry.counter('roomgate_job_files_total', 'Files read by the cache workers, by result', ['result'])
  const bytesRead = registry.counter('roomgate_job_bytes_read_total', 'Bytes read by the cache workers').child()
  const running = registry.gauge('roomgate_jobs_running', 'Cache jobs running on this instance').child()

  // Each instance's read rate, from the bus: the cluster's is their sum.
  const rates = new Map<string, { bps: number; at: number }>()
  const workerRate = () => {
    const now = Date.now()
    let bps = 0
    let at = 0
    for (const [instance, r] of rates) {
      if (now - r.at >= FRESH_MS) rates.delete(instance)
      else {
        bps += r.bps
        at = Math.max(at, r.at)
      }
    }
    return at === 0 ? null : { bps, at }
  }

  let worker: JobWorker | undefined
  let gauge: NodeJS.Timeout | undefined
  let rootWatch: RootWatch | undefined
  const events = new JobEvents(engine, deps.realtime.hub, log, deps.backend, {
    cancel: (id) => worker?.cancel(id),
    created: () => worker?.fill(),
    rate: (instance, bps, at) => rates.set(instance, { bps, at }),
  })

  const keyGuard = credentialGuard('apiKey', deps.secrets, deps.failedAuth)!
  registerJobRoutes(app, {
    store: engine.jobs,
    root: jobs.root,
    lane,
    mountPrefixes: jobs.mountPrefixes,
    maxFiles: jobs.maxFiles,
    maxQueued: jobs.maxQueued,
    retentionMs,
    onRequest: {
      read: [deps.ipRateLimit, keyGuard, perKeyLimit('jobs-read', jobs.rateLimit.readsPerMinute, engine, deps.rateLimited.child('jobs-read'), log)],
      write: [deps.ipRateLimit, keyGuard, perKeyLimit('jobs', jobs.rateLimit.perMinute, engine, deps.rateLimited.child('jobs'), log)],
    },
    backend: deps.backend,
    created: () => {
      created.inc()
      events.created()
    },
    cancelled: (id) => {
      worker?.cancel(id)
      events.cancel(id)
      void engine.jobs.get(id).then((job) => job && events.progress(job), () => undefined)
    },
  })

  const keys = deps.secrets.apiKeys
  const { local } = deps.realtime
  local.register({
    name: 'job.subscribe',
    summary: 'Watch a job (or "*", every job) with an API key: job.progress and job.file events',
    schema: Type.Object({
      job_id: Type.String({ description: 'A job id, or "*" for every job' }),
      api_key: Type.Optional(Type.String()),
    }),
    requiresIdentity: false,
    handler: async (client, data) => {
      await verifyClient(deps.failedAuth, client, () => keys.has(data.api_key), new RoomgateError('api_key_invalid'))
      if (data.job_id === ALL_JOBS) {
        events.subscribe(client, ALL_JOBS)
        return { job_id: ALL_JOBS }
      }
      if (!JOB_ID.test(data.job_id)) throw new RoomgateError('job_id_invalid')
      const job = await engine.jobs.get(data.job_id.toLowerCase())
      if (!job) throw new RoomgateError('job_not_found')
      // It may have left while the store answered: its state is already dropped.
      if (!client.open) return { job_id: job.id }
      events.subscribe(client, job.id)
      return { job_id: job.id, job: jobView(job, deps.backend()) }
    },
  })
  local.register({
    name: 'job.unsubscribe',
    summary: 'Stop watching a job (or "*")',
    schema: Type.Object({ job_id: Type.String({ description: 'A job id, or "*"' }) }),
    requiresIdentity: false,
    handler: (client, data) => {
      const id = data.job_id === ALL_JOBS ? ALL_JOBS : data.job_id.toLowerCase()
      return { job_id: data.job_id, unsubscribed: events.unsubscribe(client, id) }
    },
  })

  return {
    events,
    workerRate,
    storage() {
      if (jobs.root === undefined) return { storage: 'not_configured' }
      const state = rootWatch?.state() ?? null
      if (state === null) return { storage: 'checking' }
      if (state.readable) return { storage: 'readable' }
      return { storage: 'unreadable', storageError: `jobs.root ${jobs.root} cannot be read: ${state.error}` }
    },
    async start() {
      await events.start()
      if (jobs.root === undefined) return
      rootWatch = new RootWatch({ root: jobs.root, lane, log, ready: startWorker })
      await rootWatch.start()
    },
    async close() {
      rootWatch?.close()
      clearInterval(gauge)
      await worker?.close()
      events.close()
    },
  }

  function startWorker(root: string): void {
    worker = new JobWorker({
      store: engine.jobs,
      events,
      owner: engine.instanceId,
      root,
      lane,
      concurrency: jobs.concurrency,
      maxRunning: jobs.maxRunning,
      fileThreshold: jobs.progressFileThreshold,
      timeThresholdMs: jobs.progressTimeThresholdMs,
      retentionMs,
      leaseMs: jobs.leaseSeconds * 1000,
      bandwidth: new Bandwidth(jobs.maxBytesPerSecond),
      // Uncapped reads go to threads; a cap needs the per-chunk pacing of the fs/promises reader.
      ...(jobs.maxBytesPerSecond === 0
        ? { pool: new ReadPool({ root, size: jobs.concurrency * jobs.maxRunning, timeoutMs: jobs.fsTimeoutMs }) }
        : {}),
      log,
      metrics: {
        files: (result) => fileResults.child(result).inc(),
        bytes: (n) => bytesRead.inc(n),
        finished: (status) => finished.child(status).inc(),
      },
    })
    const w = worker
    gauge = setInterval(() => running.set(w.active), 1_000)
    gauge.unref()
    w.start()
  }
}

/**
 * A per-API-key limit, shared by the cluster; fails open like the IP limit.
 * The seed's 10 a minute applies to creations and cancels; reads have their
 * own budget, or a client polling every 5 s (the seed's own) would be refused
 * after a couple of minutes.
 */
function perKeyLimit(limiter: string, perMinute: number, engine: Engine, rejected: CounterChild, log: Logger): onRequestHookHandler {
  return ipRateLimit({
    limiter,
    rule: { rps: perMinute / 60, burst: Math.max(1, perMinute) },
    store: engine.rateLimits,
    rejected,
    log,
    // Buckets are named by a digest of the key, never the key itself.
    idOf: (request) => {
      const key = request.headers['x-api-key']
      return hash('sha256', typeof key === 'string' ? key : '', 'hex').slice(0, 32)
    },
    refusal: 'jobs_rate_limited',
  })
}
