/**
 * Jobs in Redis: they survive restarts, and any instance can resume a job whose
 * instance died. Keys (see engine/keys.ts): `rg:job:{id}` hash,
 * `rg:job:{id}:files` list of `size\trel`, `rg:job:{id}:done` bitmap,
 * `rg:jobs` (listing) and `rg:jobs:queue` (claims; its size is what
 * `jobs.maxQueued` caps). Every change of state is one Lua script or one MULTI;
 * a finished job keeps only its hash, with a TTL.
 */
import type { Redis } from 'ioredis'
import type { RedisKeys } from '../engine/keys.js'
import type { ConfirmWrite } from '../engine/replicas.js'
import { defineScript } from '../engine/scripts.js'
import { CLAIM_LUA, CREATE_LUA, END_LUA, PROGRESS_LUA, RELEASE_LUA } from './store-lua.js'
import { newJob, type CancelResult, type FileResult, type JobFile, type JobRecord, type JobStatus, type JobStore, type ProgressVerdict, type Throughput } from './types.js'

/** Files per RPUSH while creating a job. */
const PUSH_BATCH = 1_000
/** A file list whose job was never written (the creating instance died) goes away after this. */
const ORPHAN_FILES_TTL_MS = 3_600_000
/** Listing entries looked at per sweep. */
const SWEEP_BATCH = 200

const num = (v: string | undefined): number => (v ? Number(v) : 0)
const numOrNull = (v: string | undefined): number | null => (v ? Number(v) : null)

function parse(id: string, h: Record<string, string>): JobRecord | undefined {
  if (!h.status) return undefined
  return {
    id,
    status: h.status as JobStatus,
    createdAt: num(h.createdAt),
    startedAt: numOrNull(h.startedAt),
    completedAt: numOrNull(h.completedAt),
    error: h.error || null,
    totalFiles: num(h.totalFiles),
    totalBytes: num(h.totalBytes),
    completedFiles: num(h.completedFiles),
    completedBytes: num(h.completedBytes),
    partialBytes: num(h.partialBytes),
    failedFiles: num(h.failedFiles),
    throughputBps: numOrNull(h.throughputBps),
    throughputAt: numOrNull(h.throughputAt),
    owner: h.owner ?? '',
  }
}

export class RedisJobStore implements JobStore {
  private readonly createScript
  private readonly claimScript
  private readonly progressScript
  private readonly endScript
  private readonly releaseScript
  private sweepFrom = 0

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    /** Waits for replicas (redis.waitReplicas) before a creation is acknowledged. */
    private readonly confirm: ConfirmWrite,
  ) {
    this.createScript = defineScript<number | null>(redis, 'rgJobCreate', CREATE_LUA, 4)
    this.claimScript = defineScript<string | null>(redis, 'rgJobClaim', CLAIM_LUA, 1)
    this.progressScript = defineScript<number>(redis, 'rgJobProgress', PROGRESS_LUA, 3)
    this.endScript = defineScript<string | null>(redis, 'rgJobEnd', END_LUA, 4)
    this.releaseScript = defineScript<number>(redis, 'rgJobRelease', RELEASE_LUA, 2)
  }

  async create(id: string, files: readonly JobFile[], maxQueued?: number): Promise<JobRecord | 'full'> {
    const filesKey = this.keys.jobFiles(id)
    // The list first, with a TTL; the script makes the job appear (and keeps the list), or drops the list when full.
    for (let i = 0; i < files.length; i += PUSH_BATCH) {
      const batch = files.slice(i, i + PUSH_BATCH).map((f) => `${f.size}\t${f.rel}`)
      await this.redis.multi().rpush(filesKey, ...batch).pexpire(filesKey, ORPHAN_FILES_TTL_MS).exec()
    }
    const job = newJob(id, files, 0)
    const fields = [
      'status', job.status,
      'startedAt', '',
      'completedAt', '',
      'error', '',
      'totalFiles', String(job.totalFiles),
      'totalBytes', String(job.totalBytes),
      'completedFiles', '0',
      'completedBytes', '0',
      'partialBytes', '0',
      'failedFiles', '0',
      'throughputBps', '',
      'throughputAt', '',
      'owner', '',
    ]
    const createdAt = await this.createScript(this.keys.job(id), filesKey, this.keys.jobs, this.keys.jobQueue, id, maxQueued ?? '', ...fields)
    if (createdAt === null) return 'full'
    await this.confirm(this.keys.job(id))
    await this.sweep().catch(() => undefined)
    return { ...job, createdAt }
  }

  async get(id: string): Promise<JobRecord | undefined> {
    return parse(id, await this.redis.hgetall(this.keys.job(id)))
  }

  async list(limit: number): Promise<JobRecord[]> {
    const out: JobRecord[] = []
    let start = 0
    // Expired jobs leave their id in rg:jobs; they are dropped here as they are met.
    while (out.length < limit) {
      const ids = await this.redis.zrevrange(this.keys.jobs, start, start + limit - 1)
      if (ids.length === 0) break
      const pipeline = this.redis.pipeline()
      for (const id of ids) pipeline.hgetall(this.keys.job(id))
      const hashes = (await pipeline.exec()) ?? []
      const gone: string[] = []
      ids.forEach((id, i) => {
        const [err, h] = hashes[i] ?? []
        if (err) throw err
        const job = parse(id, h as Record<string, string>)
        if (job) out.push(job)
        else gone.push(id)
      })
      if (gone.length > 0) await this.redis.zrem(this.keys.jobs, ...gone)
      start += ids.length - gone.length
    }
    return out.slice(0, limit)
  }

  async cancel(id: string, retentionMs: number): Promise<CancelResult | undefined> {
    const status = await this.end(id, 'cancelled', '', retentionMs, '')
    if (status === null) return undefined
    const job = await this.get(id)
    return job && { job, changed: status === '+cancelled' }
  }

  async claim(owner: string, leaseMs: number): Promise<JobRecord | undefined> {
    const id = await this.claimScript(this.keys.jobQueue, this.keys.job(''), owner, leaseMs)
    return id ? this.get(id) : undefined
  }

  async files(id: string, start: number, count: number): Promise<JobFile[]> {
    const raw = await this.redis.lrange(this.keys.jobFiles(id), start, start + count - 1)
    return raw.map((line) => {
      const tab = line.indexOf('\t')
      return { size: Number(line.slice(0, tab)), rel: line.slice(tab + 1) }
    })
  }

  async done(id: string): Promise<Uint8Array> {
    const bitmap = await this.redis.getBuffer(this.keys.jobDone(id))
    return bitmap === null ? new Uint8Array(0) : new Uint8Array(bitmap)
  }

  async progress(
    id: string,
    owner: string,
    leaseMs: number,
    results: readonly FileResult[],
    throughput: Throughput | null,
    partialBytes: number,
  ): Promise<ProgressVerdict> {
    const args: Array<string | number> = [id, owner, leaseMs, throughput ? Math.round(throughput.bps) : '', throughput ? throughput.at : '', partialBytes]
    for (const r of results) args.push(r.index, r.ok ? 1 : 0, r.bytes)
    const ok = await this.progressScript(this.keys.job(id), this.keys.jobDone(id), this.keys.jobQueue, ...args)
    return ok === 1 ? 'ok' : 'lost'
  }

  async finish(id: string, owner: string, status: 'completed' | 'failed', error: string | null, retentionMs: number): Promise<boolean> {
    return (await this.end(id, status, error ?? '', retentionMs, owner)) === `+${status}`
  }

  async release(id: string, owner: string): Promise<void> {
    await this.releaseScript(this.keys.job(id), this.keys.jobQueue, id, owner)
  }

  async queued(): Promise<number> {
    return this.redis.zcard(this.keys.jobQueue)
  }

  /**
   * Drops the ids of expired jobs from the listing index, a slice per call
   * (each job creation), walking the whole index over time.
   */
  private async sweep(): Promise<void> {
    const ids = await this.redis.zrange(this.keys.jobs, String(this.sweepFrom), String(this.sweepFrom + SWEEP_BATCH - 1))
    if (ids.length === 0) {
      this.sweepFrom = 0
      return
    }
    const pipeline = this.redis.pipeline()
    for (const id of ids) pipeline.exists(this.keys.job(id))
    const exists = (await pipeline.exec()) ?? []
    const gone = ids.filter((_, i) => exists[i]?.[1] === 0)
    if (gone.length > 0) await this.redis.zrem(this.keys.jobs, ...gone)
    this.sweepFrom = ids.length < SWEEP_BATCH ? 0 : this.sweepFrom + ids.length - gone.length
  }

  private end(id: string, status: JobStatus, error: string, retentionMs: number, owner: string): Promise<string | null> {
    return this.endScript(this.keys.job(id), this.keys.jobFiles(id), this.keys.jobDone(id), this.keys.jobQueue, id, status, error, retentionMs, owner)
  }
}
