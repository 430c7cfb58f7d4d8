/**
 * The cache-warming worker of one instance. It claims jobs from the store
 * (the oldest pending one, or one whose instance died), reads every file not
 * yet done, `concurrency` at a time, and writes progress after
 * `progressFileThreshold` files or `progressTimeThresholdMs`, whichever comes
 * first; each write also renews the job's lease. A cancel (from any instance,
 * over the bus) or a lost lease stops the reads at once. On shutdown the
 * results so far are written and the job is released for another instance.
 *
 * Each run claims under its own token (instance id and a sequence number), so
 * a run that lost its lease learns it even when its own instance claimed the
 * job again. A run that cannot write for a whole lease stops by itself (the
 * job may already run elsewhere). Results whose write failed are kept and
 * written with the next one, and a job is finished only when every file has a
 * result in the store.
 */
import type { Logger } from '../log.js'
import type { Bandwidth } from './bandwidth.js'
import type { JobEvents, FileEvent } from './events.js'
import { Meter } from './meter.js'
import { PoolClosed, type ReadPool } from './read-pool.js'
import { readWhole } from './reader.js'
import { isDone, type FileResult, type JobRecord, type JobStore } from './types.js'

/** How often an idle worker looks for work (a new job also nudges it over the bus). */
const POLL_MS = 1_000
/** Files fetched from the store at a time. */
const PAGE = 1_000
/** Per-file events are published in batches at most this far apart. */
const FILE_EVENTS_MS = 100
const CHUNK_BYTES = 1024 * 1024
/** Passes over a job's files before giving up on results that could not be written (the lease then runs out). */
const MAX_PASSES = 3
/** How long close() waits for runs to write and hand over their jobs (a stalled mount may never answer). */
const CLOSE_TIMEOUT_MS = 5_000

export interface WorkerMetrics {
  files(result: 'completed' | 'failed'): void
  bytes(n: number): void
  finished(status: string): void
}

export interface WorkerOptions {
  store: JobStore
  events: JobEvents
  owner: string
  /** Real path of jobs.root. */
  root: string
  concurrency: number
  maxRunning: number
  fileThreshold: number
  timeThresholdMs: number
  retentionMs: number
  /** A claimed job is lost if its instance writes nothing for this long. */
  leaseMs: number
  bandwidth: Bandwidth
  /** Read threads (uncapped reads); without it files are read with fs/promises under the bandwidth cap. */
  pool?: ReadPool
  metrics: WorkerMetrics
  log: Logger
}

class Stop extends Error {
  constructor(readonly why: 'cancelled' | 'lost' | 'shutdown') {
    super(why)
  }
}

export class JobWorker {
  private readonly running = new Map<string, { ctl: AbortController; done: Promise<void> }>()
  /** This instance's reads, all jobs together. */
  readonly meter = new Meter()
  private poll: NodeJS.Timeout | undefined
  private filling = false
  private closed = false
  private runs = 0

  constructor(private readonly o: WorkerOptions) {}

  start(): void {
    this.poll = setInterval(() => this.fill(), POLL_MS)
    this.poll.unref()
    this.fill()
  }

  /** Another instance cancelled a job: stop it here if it runs here. */
  cancel(id: string): void {
    this.running.get(id)?.ctl.abort(new Stop('cancelled'))
  }

  /** Claims jobs while there is room. */
  fill(): void {
    if (this.filling || this.closed) return
    this.filling = true
    void this.claimWhileRoom().finally(() => {
      this.filling = false
    })
  }

  /** Stops every job: results so far are written, then each job is released for another instance. */
  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.poll)
    for (const { ctl } of this.running.values()) ctl.abort(new Stop('shutdown'))
    const all = Promise.all([...this.running.values()].map((r) => r.done))
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), CLOSE_TIMEOUT_MS)))
    if ((await Promise.race([all, late])) === 'late') {
      this.o.log.warn({ jobs: [...this.running.keys()] }, 'jobs still reading at shutdown (a stalled mount?); their leases will run out')
    }
    clearTimeout(timer)
    await this.o.pool?.close()
  }

  get active(): number {
    return this.running.size
  }

  private async claimWhileRoom(): Promise<void> {
    while (!this.closed && this.running.size < this.o.maxRunning) {
      let job: JobRecord | undefined
      const token = `${this.o.owner}/${++this.runs}`
      try {
        job = await this.o.store.claim(token, this.o.leaseMs)
      } catch (err) {
        this.o.log.debug({ err: (err as Error).message }, 'could not look for jobs')
        return
      }
      if (!job) return
      if (this.closed) {
        await this.o.store.release(job.id, token).catch(() => undefined)
        return
      }
      const id = job.id
      // Claimed again after its lease ran out here: the old run is a leftover.
      this.running.get(id)?.ctl.abort(new Stop('lost'))
      const ctl = new AbortController()
      const entry = { ctl, done: Promise.resolve() }
      entry.done = this.run(job, token, ctl).finally(() => {
        if (this.running.get(id) === entry) this.running.delete(id)
        this.fill()
      })
      this.running.set(id, entry)
    }
  }

  private async run(job: JobRecord, owner: string, ctl: AbortController): Promise<void> {
    const { store, events, log } = this.o
    const jlog = log.child({ job: job.id })
    const run = new Run(job, owner, ctl, this.o, this.meter, jlog)
    jlog.info({ files: job.totalFiles, bytes: job.totalBytes, resumed: job.completedFiles + job.failedFiles > 0 }, 'job started')
    events.progress(job)
    try {
      for (let pass = 1; ; pass++) {
        await run.readAll()
        await run.flush(true)
        if (await run.complete()) break
        if (pass >= MAX_PASSES) throw new Error('results could not be written')
      }
      const now = await store.get(job.id)
      if (!now) return
      const failed = now.failedFiles
      const status = failed > 0 && now.completedFiles === 0 ? 'failed' : 'completed'
      const error = failed > 0 ? `${failed} of ${now.totalFiles} files could not be read` : null
      if (await store.finish(job.id, owner, status, error, this.o.retentionMs)) {
        this.o.metrics.finished(status)
        const final = await store.get(job.id)
        if (final) events.progress(final)
        jlog.info({ status, completed: now.completedFiles, failed, bytes: now.completedBytes }, 'job finished')
      }
    } catch (err) {
      const why = ctl.signal.aborted && ctl.signal.reason instanceof Stop ? ctl.signal.reason.why : undefined
      if (why === 'shutdown') {
        await run.flush(true).catch(() => undefined)
        await store.release(job.id, owner).catch(() => undefined)
        jlog.info('job released for another instance (shutting down)')
      } else if (why) {
        jlog.info({ why }, 'job stopped')
      } else {
        // The store failed (Redis down): the lease runs out and a live instance resumes the job.
        jlog.warn({ err: (err as Error).message }, 'job interrupted; it resumes when its lease runs out')
        ctl.abort(new Stop('lost'))
      }
    } finally {
      run.close()
    }
  }
}

/** One job's run on this instance. */
class Run {
  /** When a progress write last succeeded (performance.now()). */
  private lastSuccess = performance.now()
  private results: FileResult[] = []
  private fileEvents: FileEvent[] = []
  private readonly meter = new Meter()
  private lastWrite = performance.now()
  /** Bytes read since the last write: a long file still reports its throughput. */
  private unreported = 0
  private writing: Promise<void> = Promise.resolve()
  private readonly timer: NodeJS.Timeout
  private readonly eventsTimer: NodeJS.Timeout
  private readonly buffers: Buffer[] = []

  constructor(
    private readonly job: JobRecord,
    private readonly owner: string,
    private readonly ctl: AbortController,
    private readonly o: WorkerOptions,
    private readonly instanceMeter: Meter,
    private readonly log: Logger,
  ) {
    // Written after timeThresholdMs with results, and at least every third of the lease (renewal).
    const tick = Math.min(o.timeThresholdMs, o.leaseMs / 3)
    this.timer = setInterval(() => {
      // Nothing written for a whole lease: another instance may have the job by now.
      if (performance.now() - this.lastSuccess > o.leaseMs) {
        this.log.warn('progress could not be written for a whole lease: stopping here')
        ctl.abort(new Stop('lost'))
        return
      }
      const since = performance.now() - this.lastWrite
      const news = this.results.length > 0 || this.unreported > 0
      if ((news && since >= o.timeThresholdMs) || since >= o.leaseMs / 3) void this.flush(false).catch(() => undefined)
    }, Math.max(10, tick / 2))
    this.eventsTimer = setInterval(() => this.publishFiles(), FILE_EVENTS_MS)
  }

  close(): void {
    clearInterval(this.timer)
    clearInterval(this.eventsTimer)
    this.publishFiles()
  }

  /** True when every file has a result in the store. */
  async complete(): Promise<boolean> {
    const done = await this.o.store.done(this.job.id)
    for (let i = 0; i < this.job.totalFiles; i++) if (!isDone(done, i)) return false
    return true
  }

  /** Reads every file without a result yet. An abort ends it at once, even with reads that never return. */
  async readAll(): Promise<void> {
    const { store, concurrency } = this.o
    const { signal } = this.ctl
    const done = await store.done(this.job.id)
    let inFlight = 0
    let wake: (() => void) | undefined
    const settled = () => {
      inFlight--
      wake?.()
    }
    const aborted = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason as Error)
      signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true })
    })
    aborted.catch(() => undefined)
    const settle = () => Promise.race([new Promise<void>((r) => (wake = r)), aborted])
    const slot = async () => {
      while (inFlight >= concurrency) await settle()
    }
    for (let start = 0; start < this.job.totalFiles; start += PAGE) {
      const page = await store.files(this.job.id, start, PAGE)
      for (let j = 0; j < page.length; j++) {
        const index = start + j
        if (isDone(done, index)) continue
        await slot()
        signal.throwIfAborted()
        inFlight++
        void this.readOne(index, page[j]!).finally(settled)
      }
    }
    while (inFlight > 0) await settle()
    signal.throwIfAborted()
  }

  /** Writes the results so far (and renews the lease); one write at a time. */
  flush(force: boolean): Promise<void> {
    const next = this.writing.then(async () => {
      const news = this.results.length > 0 || this.unreported > 0
      if (!force && !news && performance.now() - this.lastWrite < this.o.leaseMs / 3) return
      const results = this.results
      this.results = []
      this.unreported = 0
      this.lastWrite = performance.now()
      const now = Date.now()
      let verdict
      try {
        verdict = await this.o.store.progress(this.job.id, this.owner, this.o.leaseMs, results, { bps: this.meter.rate(now), at: now })
      } catch (err) {
        // Kept for the next write: a result is written once, however often it is sent.
        this.results = results.concat(this.results)
        throw err
      }
      this.lastSuccess = performance.now()
      if (verdict === 'lost') {
        this.ctl.abort(new Stop('lost'))
        return
      }
      this.o.events.rate(this.o.owner, this.instanceMeter.rate(now), now)
      const job = await this.o.store.get(this.job.id)
      if (job) this.o.events.progress(job)
    })
    this.writing = next.catch(() => undefined)
    return next
  }

  private async readOne(index: number, file: { rel: string; size: number }): Promise<void> {
    const { signal } = this.ctl
    const onBytes = (n: number) => {
      this.unreported += n
      this.meter.add(n)
      this.instanceMeter.add(n)
      this.o.metrics.bytes(n)
    }
    const { pool } = this.o
    const buffer = pool ? undefined : (this.buffers.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES))
    let result: FileResult
    let error: string | undefined
    try {
      const bytes = pool
        ? await pool.read(file.rel, signal, onBytes)
        : await readWhole(file.rel, { root: this.o.root, buffer: buffer!, signal, bandwidth: this.o.bandwidth, onBytes })
      result = { index, ok: true, bytes }
    } catch (err) {
      // Not a result: the file is read again when the job resumes.
      if (signal.aborted || err instanceof PoolClosed) return
      error = describe(err)
      result = { index, ok: false, bytes: 0 }
      this.log.debug({ file: file.rel, err: error }, 'file could not be read')
    } finally {
      if (buffer) this.buffers.push(buffer)
    }
    this.o.metrics.files(result.ok ? 'completed' : 'failed')
    this.results.push(result)
    this.fileEvents.push({
      job_id: this.job.id,
      index,
      path: file.rel,
      size: file.size,
      status: result.ok ? 'completed' : 'failed',
      ...(error ? { error } : {}),
    })
    if (this.results.length >= this.o.fileThreshold) void this.flush(false).catch(() => undefined)
  }

  private publishFiles(): void {
    if (this.fileEvents.length === 0) return
    this.o.events.files(this.fileEvents)
    this.fileEvents = []
  }
}

/** A reason a client may see: the error code and what it means, never a stack. */
function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException
  const reasons: Record<string, string> = {
    ENOENT: 'file no longer exists',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EISDIR: 'is a directory',
    EIO: 'input/output error',
    ELOOP: 'is a symbolic link, which is not followed',
    ENOTDIR: 'part of the path is not a folder (symbolic links are not followed)',
  }
  if (e.code && reasons[e.code]) return reasons[e.code]!
  if (e.name === 'ReadError') return e.message
  return e.code ?? 'read failed'
}
