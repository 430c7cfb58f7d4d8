/**
 * Deadlines for the filesystem calls the cache jobs make on libuv's threads
 * (the folder walk, the cache root at start, paced reads), and a bound on how
 * many of them may be stuck at once.
 *
 * A stalled network mount (NFS, FUSE) never answers: the call blocks one of
 * libuv's threads (four by default) until the mount comes back, and four such
 * calls stall every fs call and DNS lookup of the process. A call cannot be
 * taken back from the kernel, so the lane does what can be done: it runs at
 * most `size` calls at once (half of libuv's four threads by default), fails
 * the caller when a call passes its deadline (the call is abandoned: its
 * answer is ignored, a handle it opens late is closed), and counts that call
 * against the lane until it does return. While every slot holds a stuck call,
 * new calls are refused at once instead of queueing behind them: the storage
 * is down, new jobs are refused (503 `storage_unavailable`) and running ones
 * fail with the reason, rather than piling up.
 *
 * Calls go through JobFs, which is node:fs/promises; a test gives one that
 * never answers, as a stalled mount does.
 */
import type { BigIntStats, Dirent } from 'node:fs'
import { lstat, open, readdir, realpath, type FileHandle } from 'node:fs/promises'
import { RoomgateError } from '../errors.js'

/** The calls of node:fs/promises the jobs make by path (handles' own calls go through the lane too). */
export interface JobFs {
  realpath(path: string): Promise<string>
  open(path: string, flags: number): Promise<FileHandle>
  lstat(path: string): Promise<BigIntStats>
  readdir(path: string): Promise<Dirent[]>
}

const nodeFs: JobFs = {
  realpath: (path) => realpath(path),
  open: (path, flags) => open(path, flags),
  lstat: (path) => lstat(path, { bigint: true }),
  readdir: (path) => readdir(path, { withFileTypes: true }),
}

/** Calls in flight at once: two of libuv's four threads, so stuck calls always leave two to the rest of the gateway. */
export const DEFAULT_LANE_SIZE = 2

/** The storage did not answer in time: the job fails with this message, a new job is refused with `refusal` (503). */
export class StorageStalled extends Error {
  override name = 'StorageStalled'

  constructor(readonly refusal: RoomgateError) {
    super(refusal.message)
  }
}

const seconds = (ms: number): number => Number((ms / 1000).toFixed(3))

/** One call that passed its deadline; `what` names it with its path, e.g. `reading "a/b.mov"`. */
export function callStalled(what: string, timeoutMs: number): StorageStalled {
  return new StorageStalled(new RoomgateError('storage_call_stalled', { call: what, seconds: seconds(timeoutMs) }))
}

/** Refused before it started: every slot already holds a call that passed its deadline. */
export function storageStalled(stuck: number, timeoutMs: number): StorageStalled {
  return new StorageStalled(new RoomgateError('storage_stalled', { stuck, seconds: seconds(timeoutMs) }))
}

interface Waiting {
  start(): void
  /** Undefined for calls that must run whatever happens (closes). */
  refuse: ((err: Error) => void) | undefined
}

interface RunOptions<T> {
  /** Takes what an abandoned call returns after all (a handle to close). */
  late?: (value: T) => void
  /** The handle the call works on (see close). */
  subject?: FileHandle
  /** False for calls that must wait for a slot whatever happens. @defaultValue true */
  refusable?: boolean
}

export interface FsLaneOptions {
  /** Deadline of each call (jobs.fsTimeoutMs). */
  timeoutMs: number
  /** @defaultValue DEFAULT_LANE_SIZE */
  size?: number
  /** @defaultValue node:fs/promises */
  fs?: JobFs
}

export class FsLane {
  readonly timeoutMs: number
  private readonly size: number
  private readonly fs: JobFs
  private running = 0
  private stuck = 0
  private readonly waiting: Waiting[] = []
  /** Handles with a call in flight, and when it settles: closing one waits for it, without holding a slot. */
  private readonly busy = new Map<FileHandle, Promise<void>>()

  constructor(o: FsLaneOptions) {
    this.timeoutMs = o.timeoutMs
    this.size = o.size ?? DEFAULT_LANE_SIZE
    this.fs = o.fs ?? nodeFs
  }

  /** Every slot holds a call past its deadline: new calls are refused until one returns. */
  get stalled(): boolean {
    return this.stuck >= this.size
  }

  realpath(path: string, what: string): Promise<string> {
    return this.run(what, () => this.fs.realpath(path))
  }

  /** A handle that comes back after the deadline is closed: nobody is left to use it. */
  open(path: string, flags: number, what: string): Promise<FileHandle> {
    return this.run(what, () => this.fs.open(path, flags), { late: (handle) => this.close(handle) })
  }

  stat(handle: FileHandle, what: string): Promise<BigIntStats> {
    return this.run(what, () => handle.stat({ bigint: true }), { subject: handle })
  }

  lstat(path: string, what: string): Promise<BigIntStats> {
    return this.run(what, () => this.fs.lstat(path))
  }

  readdir(path: string, what: string): Promise<Dirent[]> {
    return this.run(what, () => this.fs.readdir(path))
  }

  /** Reads the next bytes of `handle` into `buffer`; resolves with how many (0 at the end). */
  read(handle: FileHandle, buffer: Buffer, what: string): Promise<number> {
    return this.run(what, async () => (await handle.read(buffer, 0, buffer.length, null)).bytesRead, { subject: handle })
  }

  /**
   * Closes a handle in the background. A close can hang on a stalled mount
   * too, so it takes a slot like any call, but it is never refused: the
   * descriptor must go. Its failure is ignored (the descriptor is gone anyway).
   * A handle whose last call was abandoned is closed when that call returns:
   * Node would make the close wait for it anyway, and it would hold a slot.
   */
  close(handle: FileHandle): void {
    const busy = this.busy.get(handle)
    if (busy) {
      void busy.then(() => this.close(handle))
      return
    }
    this.run('closing a file', () => handle.close(), { refusable: false }).catch(() => undefined)
  }

  private run<T>(what: string, call: () => Promise<T>, o: RunOptions<T> = {}): Promise<T> {
    const { late, subject, refusable = true } = o
    if (refusable && this.stalled) return Promise.reject(storageStalled(this.stuck, this.timeoutMs))
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.running++
        let abandoned = false
        const timer = setTimeout(() => {
          abandoned = true
          this.stuck++
          reject(callStalled(what, this.timeoutMs))
          if (this.stalled) this.refuseWaiting()
        }, this.timeoutMs)
        const settle = async () => {
          try {
            const value = await call()
            if (abandoned) late?.(value)
            else resolve(value)
          } catch (err) {
            if (!abandoned) reject(err as Error)
          } finally {
            clearTimeout(timer)
            if (abandoned) this.stuck--
            this.running--
            this.next()
          }
        }
        const settled = settle()
        if (subject) {
          this.busy.set(subject, settled)
          void settled.then(() => this.busy.get(subject) === settled && this.busy.delete(subject))
        }
      }
      if (this.running < this.size) start()
      else this.waiting.push({ start, refuse: refusable ? reject : undefined })
    })
  }

  private next(): void {
    while (this.running < this.size && this.waiting.length > 0) this.waiting.shift()!.start()
  }

  private refuseWaiting(): void {
    const err = storageStalled(this.stuck, this.timeoutMs)
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const refuse = this.waiting[i]!.refuse
      if (!refuse) continue
      this.waiting.splice(i, 1)
      refuse(err)
    }
  }
}
