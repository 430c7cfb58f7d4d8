/**
 * Reads one file of a job from start to end, which is what warms the cache
 * under it (a LucidLink mount fetches what is read). The file is opened again
 * at read time from the root, one component at a time and without following
 * symlinks (under-root.ts), and must be a regular file: a folder swapped for a
 * symlink after the job was created cannot lead the worker out, and
 * O_NONBLOCK keeps a FIFO from hanging a thread in open(). Every call runs in
 * the jobs' FsLane: a stalled mount fails the read with StorageStalled.
 */
import type { FileHandle } from 'node:fs/promises'
import type { Bandwidth } from './bandwidth.js'
import type { FsLane } from './fs-lane.js'
import { openBelow, openRoot } from './under-root.js'

export class ReadError extends Error {
  override name = 'ReadError'
}

export interface ReadOptions {
  /** The real path of jobs.root. */
  root: string
  lane: FsLane
  buffer: Buffer
  signal: AbortSignal
  bandwidth: Bandwidth
  /** Called with each chunk's size as it is read. */
  onBytes: (n: number) => void
}

/** Opens `rel` below the real root, a regular file only. */
async function openFile(lane: FsLane, root: string, rel: string, what: string): Promise<FileHandle> {
  const dir = await openRoot(lane, root)
  let handle: FileHandle
  try {
    handle = await openBelow(lane, dir, rel, what)
  } finally {
    lane.close(dir)
  }
  try {
    if (!(await lane.stat(handle, what)).isFile()) throw new ReadError('not a regular file')
    return handle
  } catch (err) {
    lane.close(handle)
    throw err
  }
}

export async function readWhole(rel: string, o: ReadOptions): Promise<number> {
  const what = `reading "${rel}"`
  const handle = await openFile(o.lane, o.root, rel, what)
  try {
    let total = 0
    for (;;) {
      o.signal.throwIfAborted()
      const bytesRead = await o.lane.read(handle, o.buffer, what)
      if (bytesRead === 0) return total
      total += bytesRead
      o.onBytes(bytesRead)
      // Paid after the read, by what was read: small files are not charged a whole buffer.
      await o.bandwidth.take(bytesRead, o.signal)
    }
  } finally {
    o.lane.close(handle)
  }
}
