/** Jobs in this process (memory engine): not durable, gone with the process. */
import { newJob, type CancelResult, type FileResult, type JobFile, type JobRecord, type JobStore, type ProgressVerdict, type Throughput } from './types.js'

interface Held {
  job: JobRecord
  files: readonly JobFile[]
  done: Uint8Array
  leaseUntil: number
  /** Finished jobs: when they are forgotten (epoch ms). */
  expiresAt: number
}

const copy = (job: JobRecord): JobRecord => ({ ...job })

export class MemoryJobStore implements JobStore {
  /** Insertion order is creation order. */
  private readonly jobs = new Map<string, Held>()

  async create(id: string, files: readonly JobFile[], maxQueued = Infinity): Promise<JobRecord | 'full'> {
    this.prune()
    // Counted and inserted in one synchronous step: creates racing on the event loop cannot pass the cap.
    if (this.countQueued() >= maxQueued) return 'full'
    const job = newJob(id, files, Date.now())
    this.jobs.set(id, { job, files: [...files], done: new Uint8Array(Math.ceil(files.length / 8)), leaseUntil: 0, expiresAt: Infinity })
    return copy(job)
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const held = this.live(id)
    return held && copy(held.job)
  }

  async list(limit: number): Promise<JobRecord[]> {
    this.prune()
    return [...this.jobs.values()].reverse().slice(0, limit).map((h) => copy(h.job))
  }

  async cancel(id: string, retentionMs: number): Promise<CancelResult | undefined> {
    const held = this.live(id)
    if (!held) return undefined
    const changed = held.job.status === 'pending' || held.job.status === 'running'
    if (changed) this.end(held, 'cancelled', null, retentionMs)
    return { job: copy(held.job), changed }
  }

  async claim(owner: string, leaseMs: number): Promise<JobRecord | undefined> {
    const now = Date.now()
    for (const held of this.jobs.values()) {
      const { job } = held
      const free = job.status === 'pending' || (job.status === 'running' && held.leaseUntil <= now)
      if (!free) continue
      job.status = 'running'
      job.owner = owner
      job.startedAt ??= now
      held.leaseUntil = now + leaseMs
      return copy(job)
    }
    return undefined
  }

  async files(id: string, start: number, count: number): Promise<JobFile[]> {
    return this.jobs.get(id)?.files.slice(start, start + count) ?? []
  }

  async done(id: string): Promise<Uint8Array> {
    const done = this.jobs.get(id)?.done
    return done ? new Uint8Array(done) : new Uint8Array(0)
  }

  async progress(
    id: string,
    owner: string,
    leaseMs: number,
    results: readonly FileResult[],
    throughput: Throughput | null,
    partialBytes: number,
  ): Promise<ProgressVerdict> {
    const held = this.jobs.get(id)
    if (!held || held.job.status !== 'running' || held.job.owner !== owner) return 'lost'
    const { job, done } = held
    for (const r of results) {
      const byte = r.index >> 3
      const bit = 0x80 >> (r.index & 7)
      if (byte >= done.length || (done[byte]! & bit) !== 0) continue
      done[byte]! |= bit
      if (r.ok) {
        job.completedFiles++
        job.completedBytes += r.bytes
      } else {
        job.failedFiles++
      }
    }
    job.partialBytes = partialBytes
    if (throughput) {
      job.throughputBps = throughput.bps
      job.throughputAt = throughput.at
    }
    held.leaseUntil = Date.now() + leaseMs
    return 'ok'
  }

  async finish(id: string, owner: string, status: 'completed' | 'failed', error: string | null, retentionMs: number): Promise<boolean> {
    const held = this.jobs.get(id)
    if (!held || held.job.status !== 'running' || held.job.owner !== owner) return false
    this.end(held, status, error, retentionMs)
    return true
  }

  async release(id: string, owner: string): Promise<void> {
    const held = this.jobs.get(id)
    if (held && held.job.status === 'running' && held.job.owner === owner) {
      held.job.owner = ''
      held.leaseUntil = 0
    }
  }

  async queued(): Promise<number> {
    return this.countQueued()
  }

  private countQueued(): number {
    let n = 0
    for (const { job } of this.jobs.values()) if (job.status === 'pending' || job.status === 'running') n++
    return n
  }

  private end(held: Held, status: JobRecord['status'], error: string | null, retentionMs: number): void {
    held.job.status = status
    held.job.error = error
    held.job.owner = ''
    held.job.completedAt = Date.now()
    held.files = []
    held.expiresAt = Date.now() + retentionMs
  }

  private live(id: string): Held | undefined {
    const held = this.jobs.get(id)
    if (held && held.expiresAt <= Date.now()) {
      this.jobs.delete(id)
      return undefined
    }
    return held
  }

  private prune(): void {
    const now = Date.now()
    for (const [id, held] of this.jobs) if (held.expiresAt <= now) this.jobs.delete(id)
  }
}
