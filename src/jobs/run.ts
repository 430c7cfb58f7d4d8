/**
 * One job's run on one instance (see worker.ts): reads every file not yet
 * done, `concurrency` at a time, on the read threads or with the paced
 * reader, and writes the results after `progressFileThreshold` files or
 * `progressTimeThresholdMs`, each write renewing the lease. Results whose
 * write failed are kept and written with the next one. A read on storage that
 * stopped answering (StorageStalled) stops the run: the job fails with that
 * reason rather than piling more stuck reads on the mount.
 */
import type { Logger } from '../log.js'
import type { Bandwidth } from './bandwidth.js'
import type { JobEvents, FileEvent } from './events.js'
import { StorageStalled, type FsLane } from './fs-lane.js'
import { Meter } from './meter.js'
import { PoolClosed, type ReadPool } from './read-pool.js'
import { readWhole } from './reader.js'
import { isDone, type FileResult, type JobRecord, type JobStore } from './types.js'

/** Files fetched from the store at a time. */
const PAGE = 1_000
/** Per-file events are published in batches at most this far apart. */
const FILE_EVENTS_MS = 100
const CHUNK_BYTES = 1024 * 1024

export interface WorkerMetrics {
  files(result: 'completed' | 'failed'): void
  bytes(n: number): void
  finished(status: string): void
}

/** What a run needs of the worker's options. */
export interface RunOptions {
  store: JobStore
  events: JobEvents
  owner: string
  /** Real path of jobs.root. */
  root: string
  concurrency: number
  fileThreshold: number
  timeThresholdMs: number
  /** A claimed job is lost if its instance writes nothing for this long. */
  leaseMs: number
  bandwidth: Bandwidth
  /** Read threads (uncapped reads); without it files are read with fs/promises under the bandwidth cap. */
  pool?: ReadPool
  /** Where the paced reader's fs calls run, under jobs.fsTimeoutMs. */
  lane: FsLane
  metrics: WorkerMetrics
}

/** Why a run was stopped; `stalled` carries the StorageStalled message. */
export class Stop extends Error {
  constructor(
    readonly why: 'cancelled' | 'lost' | 'shutdown' | 'stalled',
    message: string = why,
  ) {
    super(message)
  }
}

/** One job's run on this instance. */
export class Run {
  /** When a progress write last succeeded (performance.now()). */
  private lastSuccess = performance.now()
  private results: FileResult[] = []
  private fileEvents: FileEvent[] = []
  private readonly meter = new Meter()
  private lastWrite = performance.now()
  /** Bytes read since the last write: a long file still reports its throughput and its progress. */
  private unreported = 0
  /** Bytes read of the files being read now (each file's share leaves it when the file has its result). */
  private partial = 0
  private writing: Promise<void> = Promise.resolve()
  private readonly timer: NodeJS.Timeout
  private readonly eventsTimer: NodeJS.Timeout
  private readonly buffers: Buffer[] = []

  constructor(
    private readonly job: JobRecord,
    private readonly owner: string,
    private readonly ctl: AbortController,
    private readonly o: RunOptions,
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
        verdict = await this.o.store.progress(this.job.id, this.owner, this.o.leaseMs, results, { bps: this.meter.rate(now), at: now }, this.partial)
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
    let read = 0
    const onBytes = (n: number) => {
      read += n
      this.partial += n
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
        : await readWhole(file.rel, { root: this.o.root, lane: this.o.lane, buffer: buffer!, signal, bandwidth: this.o.bandwidth, onBytes })
      result = { index, ok: true, bytes }
    } catch (err) {
      // Not a result: the file is read again when the job resumes.
      if (signal.aborted || err instanceof PoolClosed) return
      // Not the file's fault either: the storage stopped answering, and the job fails with the reason.
      if (err instanceof StorageStalled) {
        this.ctl.abort(new Stop('stalled', err.message))
        return
      }
      error = describe(err)
      result = { index, ok: false, bytes: 0 }
      this.log.debug({ file: file.rel, err: error }, 'file could not be read')
    } finally {
      if (buffer) this.buffers.push(buffer)
      // The file's bytes now count through its result (or not at all: failed, or read again on resume).
      this.partial -= read
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
