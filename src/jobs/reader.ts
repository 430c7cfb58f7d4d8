/**
 * Reads one file of a job from start to end, which is what warms the cache
 * under it (a LucidLink mount fetches what is read). The file is opened again
 * at read time from the root, one component at a time and without following
 * symlinks (under-root.ts), and must be a regular file: a folder swapped for a
 * symlink after the job was created cannot lead the worker out, and
 * O_NONBLOCK keeps a FIFO from hanging a thread in open().
 */
import type { FileHandle } from 'node:fs/promises'
import type { Bandwidth } from './bandwidth.js'
import { openBelow, openRoot } from './under-root.js'

export class ReadError extends Error {
  override name = 'ReadError'
}

export interface ReadOptions {
  /** The real path of jobs.root. */
  root: string
  buffer: Buffer
  signal: AbortSignal
  bandwidth: Bandwidth
  /** Called with each chunk's size as it is read. */
  onBytes: (n: number) => void
}

/** Opens `rel` below the real root, a regular file only. */
async function openFile(root: string, rel: string): Promise<FileHandle> {
  const dir = await openRoot(root)
  let handle: FileHandle
  try {
    handle = await openBelow(dir, rel)
  } finally {
    await dir.close()
  }
  try {
    if (!(await handle.stat()).isFile()) throw new ReadError('not a regular file')
    return handle
  } catch (err) {
    await handle.close()
    throw err
  }
}

export async function readWhole(rel: string, o: ReadOptions): Promise<number> {
  const handle = await openFile(o.root, rel)
  try {
    let total = 0
    for (;;) {
      o.signal.throwIfAborted()
      const { bytesRead } = await handle.read(o.buffer, 0, o.buffer.length, null)
      if (bytesRead === 0) return total
      total += bytesRead
      o.onBytes(bytesRead)
      // Paid after the read, by what was read: small files are not charged a whole buffer.
      await o.bandwidth.take(bytesRead, o.signal)
    }
  } finally {
    await handle.close()
  }
}
