/**
 * Whole-file reads on worker threads. Reading with fs/promises costs a trip
 * through libuv's thread pool and back per 1 MiB chunk (plus the opens,
 * fstat and close): profiled on the cache-warming path, those hand-offs, not
 * the copying, used most of the time, and capped it at about 0.4× `cat`.
 * Each thread here reads a whole file with blocking calls and reports its
 * bytes in batches, which reaches `cat`'s speed; it also leaves libuv's four
 * threads to the rest of the gateway while a slow mount blocks a read.
 *
 * The thread's code is plain JavaScript passed with `eval: true`, so it runs
 * the same from `dist/` and from the TypeScript sources under the test runner.
 * A cancel is a flag in shared memory, read by the thread between chunks.
 * Files are opened as reader.ts opens them: from the root, one component at
 * a time, never following a symlink.
 */
import { Worker } from 'node:worker_threads'
import { ReadError } from './reader.js'

/** Bytes and time between a thread's progress reports. */
const REPORT_BYTES = 16 * 1024 * 1024
const REPORT_MS = 100
/** A thread unused this long is stopped (a new job starts it again). */
const IDLE_MS = 30_000

const THREAD = `
const { parentPort, workerData } = require('node:worker_threads')
const fs = require('node:fs')
const { root, chunk, reportBytes, reportMs, flags } = workerData
const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = fs.constants
const cancel = new Int32Array(flags)
const buffer = Buffer.allocUnsafe(chunk)
const readError = (message) => Object.assign(new Error(message), { name: 'ReadError' })
// under-root.ts's openBelow, blocking: each component opened from its parent's
// descriptor with O_NOFOLLOW, so no symlink is followed, whenever it appeared.
function openUnderRoot(rel) {
  const names = rel.split('/')
  const last = names.pop()
  let dir = fs.openSync(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
  try {
    for (const name of names) {
      const parent = dir
      dir = fs.openSync('/proc/self/fd/' + parent + '/' + name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
      fs.closeSync(parent)
    }
    return fs.openSync('/proc/self/fd/' + dir + '/' + last, O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
  } finally {
    fs.closeSync(dir)
  }
}
parentPort.on('message', ({ id, rel }) => {
  let fd
  let total = 0
  let pending = 0
  let last = Date.now()
  try {
    fd = openUnderRoot(rel)
    if (!fs.fstatSync(fd).isFile()) throw readError('not a regular file')
    for (;;) {
      if (Atomics.load(cancel, 0) === 1) return parentPort.postMessage({ id, cancelled: true, bytes: pending })
      const n = fs.readSync(fd, buffer, 0, chunk, null)
      if (n === 0) break
      total += n
      pending += n
      if (pending >= reportBytes || Date.now() - last >= reportMs) {
        parentPort.postMessage({ id, bytes: pending })
        pending = 0
        last = Date.now()
      }
    }
    parentPort.postMessage({ id, bytes: pending, total })
  } catch (err) {
    parentPort.postMessage({ id, bytes: pending, error: { name: err.name, code: err.code, message: err.message } })
  } finally {
    if (fd !== undefined) try { fs.closeSync(fd) } catch {}
  }
})
`

/** The pool closed before or while it read: not the file's fault. */
export class PoolClosed extends Error {
  override name = 'PoolClosed'
  constructor() {
    super('read pool closed')
  }
}

interface Reply {
  id: number
  bytes: number
  total?: number
  cancelled?: boolean
  error?: { name: string; code?: string; message: string }
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
  task: Task | undefined
  idle: NodeJS.Timeout | undefined

  constructor(root: string, chunk: number, onReply: (t: Thread, r: Reply) => void, onExit: (t: Thread, err: Error) => void) {
    this.worker = new Worker(THREAD, {
      eval: true,
      workerData: { root, chunk, reportBytes: REPORT_BYTES, reportMs: REPORT_MS, flags: this.cancel.buffer },
    })
    this.worker.unref()
    this.worker.on('message', (r: Reply) => onReply(this, r))
    this.worker.on('error', (err) => onExit(this, err))
    this.worker.on('exit', (code) => onExit(this, new Error(`read thread exited with code ${code}`)))
  }
}

export class ReadPool {
  private readonly threads = new Set<Thread>()
  private readonly waiting: Task[] = []
  private nextId = 0
  private closed = false

  constructor(
    private readonly root: string,
    private readonly size: number,
    private readonly chunk = 1024 * 1024,
  ) {}

  /** Reads `rel` (under the root) to its end; resolves with its size, rejects like fs would, or with the signal's reason. */
  read(rel: string, signal: AbortSignal, onBytes: (n: number) => void): Promise<number> {
    if (this.closed) return Promise.reject(new PoolClosed())
    signal.throwIfAborted()
    return new Promise((resolve, reject) => {
      const task: Task = { id: ++this.nextId, rel, signal, onBytes, resolve, reject }
      const free = [...this.threads].find((t) => t.task === undefined)
      if (free) this.start(free, task)
      else if (this.threads.size < this.size) this.start(this.spawn(), task)
      else this.waiting.push(task)
    })
  }

  async close(): Promise<void> {
    this.closed = true
    for (const task of this.waiting.splice(0)) task.reject(new PoolClosed())
    await Promise.all([...this.threads].map((t) => this.stop(t)))
  }

  private spawn(): Thread {
    const thread = new Thread(this.root, this.chunk, (t, r) => this.reply(t, r), (t, err) => this.exited(t, err))
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
  }

  private reply(thread: Thread, r: Reply): void {
    const task = thread.task
    if (!task || task.id !== r.id) return
    if (r.bytes > 0) task.onBytes(r.bytes)
    if (r.total === undefined && !r.cancelled && !r.error) return
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
    thread.task?.reject(err)
    thread.task = undefined
    // The others still waiting get a fresh thread.
    const task = this.waiting.shift()
    if (task && !this.closed) this.start(this.spawn(), task)
  }

  private async stop(thread: Thread): Promise<void> {
    this.threads.delete(thread)
    clearTimeout(thread.idle)
    thread.task?.reject(new PoolClosed())
    thread.task = undefined
    await thread.worker.terminate()
  }
}

function toError(e: { name: string; code?: string; message: string }): Error {
  const err: NodeJS.ErrnoException = e.name === 'ReadError' ? new ReadError(e.message) : new Error(e.message)
  if (e.code) err.code = e.code
  return err
}
