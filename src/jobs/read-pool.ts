/**
 * Whole-file reads on worker threads. Reading with fs/promises costs a trip
 * through libuv's thread pool and back per 1 MiB chunk (plus the opens,
 * fstat and close): profiled on the cache-warming path, those hand-offs, not
 * the copying, used most of the time, and capped it at about 0.4× `cat`.
 * Each thread (read-thread.ts) reads a whole file with blocking calls and
 * reports its bytes in batches, which reaches `cat`'s speed; it also leaves
 * libuv's four threads to the rest of the gateway while a slow mount blocks a
 * read.
 *
 * A stalled mount blocks a thread in a call that may never return. A watchdog
 * fails the read once the thread has waited `timeoutMs` in one call (the
 * thread writes when each call began into shared memory), and the thread is
 * counted stuck until it answers; then it finishes that read as cancelled
 * (closing its file) and is used again. Stuck threads count against `size`,
 * so they never grow past it, and while every thread is stuck new reads fail
 * at once instead of waiting behind them.
 */
import { Worker } from 'node:worker_threads'
import { callStalled, storageStalled } from './fs-lane.js'
import { ReadError } from './reader.js'
import { THREAD, type Reply, type ThreadData } from './read-thread.js'

/** Bytes and time between a thread's progress reports. */
const REPORT_BYTES = 16 * 1024 * 1024
const REPORT_MS = 100
/** A thread unused this long is stopped (a new job starts it again). */
const IDLE_MS = 30_000
const DEFAULT_CHUNK_BYTES = 1024 * 1024

/** The pool closed before or while it read: not the file's fault. */
export class PoolClosed extends Error {
  override name = 'PoolClosed'
  constructor() {
    super('read pool closed')
  }
}

export interface ReadPoolOptions {
  /** Real path of jobs.root. */
  root: string
  /** Threads at most, stuck ones included. */
  size: number
  /** How long one blocking call of a thread may take (jobs.fsTimeoutMs). */
  timeoutMs: number
  /** @defaultValue 1 MiB */
  chunk?: number
  /** The module the threads take their fs calls from. @defaultValue `node:fs` (a test gives one that hangs) */
  fsModule?: string
}

interface Task {
  id: number
  rel: string
  signal: AbortSignal
  onBytes: (n: number) => void
  resolve: (total: number) => void
  reject: (err: unknown) => void
}

class Thread {
  readonly worker: Worker
  readonly cancel = new Int32Array(new SharedArrayBuffer(4))
  readonly clock = new BigInt64Array(new SharedArrayBuffer(8))
  task: Task | undefined
  /** The task whose call passed the deadline: the thread is stuck in it until it answers. */
  abandoned: number | undefined
  idle: NodeJS.Timeout | undefined
  watchdog: NodeJS.Timeout | undefined

  constructor(data: Omit<ThreadData, 'flags' | 'clock'>, onReply: (t: Thread, r: Reply) => void, onExit: (t: Thread, err: Error) => void) {
    const workerData: ThreadData = { ...data, flags: this.cancel.buffer as SharedArrayBuffer, clock: this.clock.buffer as SharedArrayBuffer }
    this.worker = new Worker(THREAD, { eval: true, workerData })
    this.worker.unref()
    this.worker.on('message', (r: Reply) => onReply(this, r))
    this.worker.on('error', (err) => onExit(this, err))
    this.worker.on('exit', (code) => onExit(this, new Error(`read thread exited with code ${code}`)))
  }

  get free(): boolean {
    return this.task === undefined && this.abandoned === undefined
  }
}

export class ReadPool {
  private readonly threads = new Set<Thread>()
  private readonly waiting: Task[] = []
  private nextId = 0
  private closed = false

  constructor(private readonly o: ReadPoolOptions) {}

  /** Every thread is stuck in a call past the deadline: reads fail at once until one answers. */
  get stalled(): boolean {
    let stuck = 0
    for (const t of this.threads) if (t.abandoned !== undefined) stuck++
    return stuck >= this.o.size
  }

  /**
   * Reads `rel` (under the root) to its end; resolves with its size, rejects
   * like fs would, with StorageStalled past the deadline, or with the signal's reason.
   */
  read(rel: string, signal: AbortSignal, onBytes: (n: number) => void): Promise<number> {
    if (this.closed) return Promise.reject(new PoolClosed())
    signal.throwIfAborted()
    if (this.stalled) return Promise.reject(storageStalled(this.o.size, this.o.timeoutMs))
    return new Promise((resolve, reject) => {
      const task: Task = { id: ++this.nextId, rel, signal, onBytes, resolve, reject }
      const free = [...this.threads].find((t) => t.free)
      if (free) this.start(free, task)
      else if (this.threads.size < this.o.size) this.start(this.spawn(), task)
      else this.waiting.push(task)
    })
  }

  async close(): Promise<void> {
    this.closed = true
    for (const task of this.waiting.splice(0)) task.reject(new PoolClosed())
    await Promise.all([...this.threads].map((t) => this.stop(t)))
  }

  private spawn(): Thread {
    const data = {
      root: this.o.root,
      chunk: this.o.chunk ?? DEFAULT_CHUNK_BYTES,
      reportBytes: REPORT_BYTES,
      reportMs: REPORT_MS,
      fsModule: this.o.fsModule ?? 'node:fs',
    }
    const thread = new Thread(data, (t, r) => this.reply(t, r), (t, err) => this.exited(t, err))
    this.threads.add(thread)
    return thread
  }

  private start(thread: Thread, task: Task): void {
    clearTimeout(thread.idle)
    thread.task = task
    Atomics.store(thread.cancel, 0, 0)
    const abort = () => Atomics.store(thread.cancel, 0, 1)
    task.signal.addEventListener('abort', abort, { once: true })
    const done = () => task.signal.removeEventListener('abort', abort)
    const { resolve, reject } = task
    task.resolve = (n) => (done(), resolve(n))
    task.reject = (e) => (done(), reject(e))
    thread.worker.postMessage({ id: task.id, rel: task.rel })
    this.watch(thread, task, this.o.timeoutMs)
  }

  /** Checks, when the deadline could have passed, how long the thread has been in its current call. */
  private watch(thread: Thread, task: Task, delay: number): void {
    thread.watchdog = setTimeout(() => {
      if (thread.task !== task) return
      const since = Number(Atomics.load(thread.clock, 0))
      const left = since === 0 ? this.o.timeoutMs : since + this.o.timeoutMs - Date.now()
      if (left > 0) this.watch(thread, task, left)
      else this.abandon(thread, task)
    }, delay)
    thread.watchdog.unref()
  }

  /** The read fails now; the thread stops that read as soon as its call returns, and is used again then. */
  private abandon(thread: Thread, task: Task): void {
    thread.task = undefined
    thread.abandoned = task.id
    Atomics.store(thread.cancel, 0, 1)
    task.reject(callStalled(`reading "${task.rel}"`, this.o.timeoutMs))
    if (!this.stalled) return
    for (const waiting of this.waiting.splice(0)) waiting.reject(storageStalled(this.o.size, this.o.timeoutMs))
  }

  private reply(thread: Thread, r: Reply): void {
    const final = r.total !== undefined || r.cancelled === true || r.error !== undefined
    if (thread.abandoned === r.id) {
      if (!final) return
      thread.abandoned = undefined
      return this.next(thread)
    }
    const task = thread.task
    if (!task || task.id !== r.id) return
    if (r.bytes > 0) task.onBytes(r.bytes)
    if (!final) return
    clearTimeout(thread.watchdog)
    thread.task = undefined
    if (r.cancelled) task.reject(task.signal.reason)
    else if (r.error) task.reject(toError(r.error))
    else task.resolve(r.total!)
    this.next(thread)
  }

  private next(thread: Thread): void {
    const task = this.waiting.shift()
    if (task) {
      if (task.signal.aborted) {
        task.reject(task.signal.reason)
        return this.next(thread)
      }
      return this.start(thread, task)
    }
    thread.idle = setTimeout(() => void this.stop(thread), IDLE_MS)
    thread.idle.unref()
  }

  private exited(thread: Thread, err: Error): void {
    if (!this.threads.delete(thread)) return
    clearTimeout(thread.idle)
    clearTimeout(thread.watchdog)
    thread.task?.reject(err)
    thread.task = undefined
    // The others still waiting get a fresh thread.
    const task = this.waiting.shift()
    if (task && !this.closed) this.start(this.spawn(), task)
  }

  private async stop(thread: Thread): Promise<void> {
    this.threads.delete(thread)
    clearTimeout(thread.idle)
    clearTimeout(thread.watchdog)
    thread.task?.reject(new PoolClosed())
    thread.task = undefined
    const terminated = thread.worker.terminate()
    // A thread stuck in a call cannot stop before the call returns: nobody waits for it (it is unref'd).
    if (thread.abandoned === undefined) await terminated
    else terminated.catch(() => undefined)
  }
}

function toError(e: { name: string; code?: string; message: string }): Error {
  const err: NodeJS.ErrnoException = e.name === 'ReadError' ? new ReadError(e.message) : new Error(e.message)
  if (e.code) err.code = e.code
  return err
}
