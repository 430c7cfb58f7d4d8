/**
 * Cache jobs in shared state. A job is created with its file list (paths
 * relative to `jobs.root`, sizes counted at creation), claimed by one
 * instance at a time under a lease, and advanced by progress writes that
 * record which files are done: a file is counted once however many times it
 * is read (a job resumed after a crash re-reads the files whose results were
 * not yet written). The memory and Redis stores pass one contract suite.
 */
export type JobStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled'

export const FINISHED: ReadonlySet<JobStatus> = new Set(['completed', 'failed', 'cancelled'])

export interface JobFile {
  /** Relative to `jobs.root`, POSIX separators. */
  rel: string
  size: number
}

export interface JobRecord {
  id: string
  status: JobStatus
  /** Epoch ms. */
  createdAt: number
  startedAt: number | null
  completedAt: number | null
  error: string | null
  totalFiles: number
  totalBytes: number
  completedFiles: number
  /** Bytes of the completed files. */
  completedBytes: number
  /** Bytes read so far of the files still being read, as of the last progress write (see `bytesRead`). */
  partialBytes: number
  failedFiles: number
  /** Bytes per second over the worker's sliding window, and when it was measured (epoch ms). */
  throughputBps: number | null
  throughputAt: number | null
  /** Instance running it (empty when none). */
  owner: string
}

export interface FileResult {
  /** Index of the file in the job's list. */
  index: number
  ok: boolean
  /** Bytes read (for a completed file: its size when read). */
  bytes: number
}

export interface Throughput {
  bps: number
  at: number
}

/** What a progress write found: `ok`, or `lost` when the job was cancelled or claimed by another instance. */
export type ProgressVerdict = 'ok' | 'lost'

export interface CancelResult {
  job: JobRecord
  /** False when the job had already ended (cancelled included). */
  changed: boolean
}

export interface JobStore {
  /**
   * Creates a pending job, unless `maxQueued` jobs are already pending or
   * running cluster-wide: then nothing is created and the answer is `full`.
   * The count and the insert are one atomic step, so creates racing on any
   * number of instances never pass the cap. Without `maxQueued`: no cap.
   */
  create(id: string, files: readonly JobFile[], maxQueued?: number): Promise<JobRecord | 'full'>
  get(id: string): Promise<JobRecord | undefined>
  /** Newest first. */
  list(limit: number): Promise<JobRecord[]>
  /**
   * Cancels a pending or running job; returns the job as it now is and whether
   * this call cancelled it (undefined: unknown job).
   */
  cancel(id: string, retentionMs: number): Promise<CancelResult | undefined>
  /**
   * Takes the oldest pending job, or a running job whose lease ran out (its
   * instance died), for `owner` with a lease of `leaseMs`.
   */
  claim(owner: string, leaseMs: number): Promise<JobRecord | undefined>
  /** Files [start, start + count) of a job's list. */
  files(id: string, start: number, count: number): Promise<JobFile[]>
  /** Which files already have a result: bit i of the bitmap (big-endian bit order within each byte, as Redis SETBIT). */
  done(id: string): Promise<Uint8Array>
  /** Records results (each file counted once) and renews the lease. */
  progress(
    id: string,
    owner: string,
    leaseMs: number,
    results: readonly FileResult[],
    throughput: Throughput | null,
    /** Bytes read of the files this run is still reading (replaces the last value). */
    partialBytes: number,
  ): Promise<ProgressVerdict>
  /** Ends a running job owned by `owner`; false when it was cancelled or taken meanwhile. */
  finish(id: string, owner: string, status: 'completed' | 'failed', error: string | null, retentionMs: number): Promise<boolean>
  /** Gives a running job back (graceful shutdown): another instance may claim it at once. */
  release(id: string, owner: string): Promise<void>
  /** Jobs pending or running, cluster-wide (what `maxQueued` counts). */
  queued(): Promise<number>
}

/** The seed's UUID job ids. */
export const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** A job as created: pending, with its totals counted from its files. */
export function newJob(id: string, files: readonly JobFile[], createdAt: number): JobRecord {
  return {
    id,
    status: 'pending',
    createdAt,
    startedAt: null,
    completedAt: null,
    error: null,
    totalFiles: files.length,
    totalBytes: files.reduce((n, f) => n + f.size, 0),
    completedFiles: 0,
    completedBytes: 0,
    partialBytes: 0,
    failedFiles: 0,
    throughputBps: null,
    throughputAt: null,
    owner: '',
  }
}

/**
 * What the job has read: its completed files and what the last progress write
 * counted inside files still being read (a job's bar moves within a large
 * file, and a cancelled job shows what it read). Exact at the end: a finished
 * run has no file in flight.
 */
export function bytesRead(job: JobRecord): number {
  return Math.min(job.totalBytes, job.completedBytes + job.partialBytes)
}

export function isDone(bitmap: Uint8Array, index: number): boolean {
  const byte = bitmap[index >> 3]
  return byte !== undefined && (byte & (0x80 >> (index & 7))) !== 0
}
