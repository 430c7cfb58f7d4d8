/**
 * The dashboard's jobs section: the jobs pending or running first, then the
 * latest ones, with files and bytes done, throughput and ETA. Throughput is
 * the worker's own sliding-window figure while it is fresh, else the job's
 * average since it started (a progress write may be a few seconds away).
 */
import { bytesRead, type JobRecord, type JobStore } from '../jobs/types.js'
import { FRESH_MS, percentage, readableSize } from '../jobs/view.js'

/** Jobs shown. */
export const MAX_JOBS = 20
/** Latest jobs read to find those still pending or running. */
const SCANNED_JOBS = 50

export interface JobRow {
  id: string
  status: JobRecord['status']
  files: { completed: number; failed: number; total: number; percentage: number }
  bytes: { completed: number; total: number; completedReadable: string; totalReadable: string; percentage: number }
  /** Bytes per second while running; null when unknown. */
  throughputBps: number | null
  throughputReadable: string | null
  /** Seconds left at the current throughput; null when not running or unknown. */
  etaSeconds: number | null
  createdAt: number
  startedAt: number | null
  completedAt: number | null
  error: string | null
}

const ACTIVE = new Set<JobRecord['status']>(['pending', 'running'])

export async function jobsView(store: JobStore, now = Date.now()): Promise<JobRow[]> {
  const latest = await store.list(SCANNED_JOBS)
  const active = latest.filter((j) => ACTIVE.has(j.status))
  const ended = latest.filter((j) => !ACTIVE.has(j.status))
  return [...active, ...ended].slice(0, MAX_JOBS).map((j) => jobRow(j, now))
}

export function jobRow(job: JobRecord, now = Date.now()): JobRow {
  const running = job.status === 'running'
  const bps = running ? throughput(job, now) : null
  const read = bytesRead(job)
  const left = job.totalBytes - read
  return {
    id: job.id,
    status: job.status,
    files: {
      completed: job.completedFiles,
      failed: job.failedFiles,
      total: job.totalFiles,
      percentage: percentage(job.completedFiles + job.failedFiles, job.totalFiles),
    },
    bytes: {
      completed: read,
      total: job.totalBytes,
      completedReadable: readableSize(read),
      totalReadable: readableSize(job.totalBytes),
      percentage: percentage(read, job.totalBytes),
    },
    throughputBps: bps,
    throughputReadable: bps === null ? null : `${readableSize(Math.round(bps))}/s`,
    etaSeconds: bps !== null && bps > 0 ? Math.ceil(Math.max(0, left) / bps) : null,
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    completedAt: job.completedAt,
    error: job.error,
  }
}

function throughput(job: JobRecord, now: number): number | null {
  if (job.throughputBps !== null && job.throughputAt !== null && now - job.throughputAt < FRESH_MS) return job.throughputBps
  if (job.startedAt === null || now <= job.startedAt) return null
  return bytesRead(job) / ((now - job.startedAt) / 1000)
}
