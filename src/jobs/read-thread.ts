/**
 * The code of a read thread (see read-pool.ts). It is plain JavaScript passed
 * to the Worker with `eval: true`, so it runs the same from `dist/` and from
 * the TypeScript sources under the test runner.
 *
 * A thread reads a whole file with blocking calls and reports its bytes in
 * batches. It opens the file as under-root.ts does: from the root, each
 * component from its parent's descriptor with O_NOFOLLOW, so no symlink is
 * followed, whenever it appeared. Before each blocking call it writes the
 * time into shared memory (`clock`) and clears it after: a call on a stalled
 * mount never returns, and the pool sees how long it has been waiting without
 * the thread having to answer. A cancel is a flag in shared memory, read
 * between chunks.
 */

export interface ThreadData {
  /** Real path of jobs.root. */
  root: string
  chunk: number
  reportBytes: number
  reportMs: number
  /** Int32 cancel flag. */
  flags: SharedArrayBuffer
  /** BigInt64: when the blocking call in progress began (epoch ms), 0 between calls. */
  clock: SharedArrayBuffer
  /** Where the fs calls come from: `node:fs`, or a test's module that hangs like a stalled mount. */
  fsModule: string
}

/** A thread's message: bytes read since the last one; a final one also has `total`, `cancelled` or `error`. */
export interface Reply {
  id: number
  bytes: number
  total?: number
  cancelled?: boolean
  error?: { name: string; code?: string; message: string }
}

export const THREAD = `
const { parentPort, workerData } = require('node:worker_threads')
const { root, chunk, reportBytes, reportMs, flags, clock, fsModule } = workerData
const fs = require(fsModule)
const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = fs.constants
const cancel = new Int32Array(flags)
// When the blocking call in progress began (epoch ms), 0 between calls: the pool's watchdog reads it.
const since = new BigInt64Array(clock)
const buffer = Buffer.allocUnsafe(chunk)
const readError = (message) => Object.assign(new Error(message), { name: 'ReadError' })
function call(fn) {
  Atomics.store(since, 0, BigInt(Date.now()))
  try {
    return fn()
  } finally {
    Atomics.store(since, 0, 0n)
  }
}
// under-root.ts's openBelow, blocking: each component opened from its parent's
// descriptor with O_NOFOLLOW, so no symlink is followed, whenever it appeared.
function openUnderRoot(rel) {
  const names = rel.split('/')
  const last = names.pop()
  let dir = call(() => fs.openSync(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW))
  try {
    for (const name of names) {
      const parent = dir
      dir = call(() => fs.openSync('/proc/self/fd/' + parent + '/' + name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW))
      call(() => fs.closeSync(parent))
    }
    return call(() => fs.openSync('/proc/self/fd/' + dir + '/' + last, O_RDONLY | O_NOFOLLOW | O_NONBLOCK))
  } finally {
    call(() => fs.closeSync(dir))
  }
}
parentPort.on('message', ({ id, rel }) => {
  let fd
  let total = 0
  let pending = 0
  let last = Date.now()
  try {
    fd = openUnderRoot(rel)
    if (!call(() => fs.fstatSync(fd)).isFile()) throw readError('not a regular file')
    for (;;) {
      if (Atomics.load(cancel, 0) === 1) return parentPort.postMessage({ id, cancelled: true, bytes: pending })
      const n = call(() => fs.readSync(fd, buffer, 0, chunk, null))
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
    if (fd !== undefined) try { call(() => fs.closeSync(fd)) } catch {}
  }
})
`
