/**
 * What clients see of a job, in seed 002's shapes: the `job` of
 * `GET /api/v1/cache/jobs/{id}`, the entries of the listing, human-readable
 * sizes ("966.69 MB", "60.0 GB": binary units, two decimals, trailing zeros
 * trimmed to one) and throughput only while it is fresh.
 */
import { bytesRead, type JobRecord } from './types.js'

/** Throughput older than this is not shown (seed: "only shown when data is fresh"). */
export const FRESH_MS = 10_000
const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB']
const MB = 1024 * 1024

function trim(n: number): string {
  const text = n.toFixed(2)
  return text.endsWith('0') ? text.slice(0, -1) : text
}

export function readableSize(bytes: number): string {
  let n = bytes
  let unit = 0
  while (n >= 1024 && unit < UNITS.length - 1) {
    n /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${trim(n)} ${UNITS[unit]}`
}

/** Done / total as a percentage with one decimal, never 100 before everything is done. */
export function percentage(done: number, total: number): number {
  if (total <= 0) return 100
  // A file that grew after the job was created must not take it past 100.
  return Math.min(100, Math.floor((done / total) * 1000) / 10)
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())

export interface ThroughputView {
  mbps: number
  readable: string
  timestamp: string
}

/** The freshest of the figures given (backend stats or the worker's own), if any is fresh. */
export function throughputView(
  candidates: ReadonlyArray<{ bps: number; at: number } | null>,
  now = Date.now(),
): ThroughputView | null {
  let best: { bps: number; at: number } | null = null
  for (const c of candidates) if (c && now - c.at < FRESH_MS && (!best || c.at > best.at)) best = c
  if (!best) return null
  const mbps = Math.round((best.bps / MB) * 10) / 10
  return { mbps, readable: `${trim(mbps)} MB/s`, timestamp: new Date(best.at).toISOString() }
}

export function jobView(job: JobRecord, backend: { bps: number; at: number } | null = null) {
  const done = job.completedFiles + job.failedFiles
  const files = percentage(done, job.totalFiles)
  const read = bytesRead(job)
  const size = percentage(read, job.totalBytes)
  const running = job.status === 'running'
  const own = job.throughputBps !== null && job.throughputAt !== null ? { bps: job.throughputBps, at: job.throughputAt } : null
  return {
    id: job.id,
    status: job.status,
    totalFiles: job.totalFiles,
    progress: {
      files: { completed: job.completedFiles, failed: job.failedFiles, total: job.totalFiles, percentage: files },
      size: {
        completedBytes: read,
        totalBytes: job.totalBytes,
        completedReadable: readableSize(read),
        totalReadable: readableSize(job.totalBytes),
        percentage: size,
      },
      percentage: Math.floor(((files + size) / 2) * 10) / 10,
    },
    throughput: running ? throughputView([backend, own]) : null,
    createdAt: new Date(job.createdAt).toISOString(),
    startedAt: iso(job.startedAt),
    completedAt: iso(job.completedAt),
    error: job.error,
  }
}

export type JobView = ReturnType<typeof jobView>

export function listEntry(job: JobRecord) {
  return {
    id: job.id,
    status: job.status,
    totalFiles: job.totalFiles,
    totalSizeBytes: job.totalBytes,
    totalSizeReadable: readableSize(job.totalBytes),
    completedFiles: job.completedFiles,
    failedFiles: job.failedFiles,
    completedSizeBytes: bytesRead(job),
    completedSizeReadable: readableSize(bytesRead(job)),
    createdAt: new Date(job.createdAt).toISOString(),
    startedAt: iso(job.startedAt),
    completedAt: iso(job.completedAt),
  }
}
