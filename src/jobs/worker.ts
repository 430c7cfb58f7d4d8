/**
 * The cache-warming worker of one instance. It claims jobs from the store
 * (the oldest pending one, or one whose instance died) and runs them (run.ts:
 * every file not yet done is read, progress is written as it goes and renews
 * the job's lease). A cancel (from any instance, over the bus) or a lost lease
 * stops the reads at once. On shutdown the results so far are written and the
 * job is released for another instance. A job whose storage stops answering
 * fails with the reason; while the storage is stalled (every read thread, or
 * every slot of the fs lane, stuck in a call) no job is claimed here, so jobs
 * wait `pending`, for this instance or another, instead of failing one after
 * the other.
 *
 * Each run claims under its own token (instance id and a sequence number), so
 * a run that lost its lease learns it even when its own instance claimed the
 * job again. A run that cannot write for a whole lease stops by itself (the
 * job may already run elsewhere). Results whose write failed are kept and
 * written with the next one, and a job is finished only when every file has a
 * result in the store.
 */
import type { Logger } from '../log.js'
import { Meter } from './meter.js'
import { Run, Stop, type RunOptions } from './run.js'
import type { JobRecord } from './types.js'

/** How often an idle worker looks for work (a new job also nudges it over the bus). */
const POLL_MS = 1_000
/** Passes over a job's files before giving up on results that could not be written (the lease then runs out). */
const MAX_PASSES = 3
/** How long close() waits for runs to write and hand over their jobs (a stalled mount may never answer). */
const CLOSE_TIMEOUT_MS = 5_000

export interface WorkerOptions extends RunOptions {
  maxRunning: number
  retentionMs: number
  log: Logger
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
    if (this.filling || this.closed || this.storageStalled) return
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

  private get storageStalled(): boolean {
    return this.o.lane.stalled || this.o.pool?.stalled === true
  }

  private async claimWhileRoom(): Promise<void> {
    while (!this.closed && !this.storageStalled && this.running.size < this.o.maxRunning) {
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
      if (await this.end(job.id, owner, status, error)) {
        jlog.info({ status, completed: now.completedFiles, failed, bytes: now.completedBytes }, 'job finished')
      }
    } catch (err) {
      const why = ctl.signal.aborted && ctl.signal.reason instanceof Stop ? ctl.signal.reason.why : undefined
      if (why === 'shutdown') {
        await run.flush(true).catch(() => undefined)
        await store.release(job.id, owner).catch(() => undefined)
        jlog.info('job released for another instance (shutting down)')
      } else if (why === 'stalled') {
        // The results so far are kept; the job fails with the call, the file and the deadline.
        const reason = (ctl.signal.reason as Stop).message
        await run.flush(true).catch(() => undefined)
        if (await this.end(job.id, owner, 'failed', reason).catch(() => false)) jlog.warn({ err: reason }, 'job failed: the storage stopped answering')
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

  /** Ends the owner's running job and tells watchers; false when it was cancelled or taken meanwhile. */
  private async end(id: string, owner: string, status: 'completed' | 'failed', error: string | null): Promise<boolean> {
    if (!(await this.o.store.finish(id, owner, status, error, this.o.retentionMs))) return false
    this.o.metrics.finished(status)
    const final = await this.o.store.get(id)
    if (final) this.o.events.progress(final)
    return true
  }
}

