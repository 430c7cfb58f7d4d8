/**
 * Reads one file of a job from start to end, which is what warms the cache
 * under it (a LucidLink mount fetches what is read). The path is resolved
 * again at read time and must still be a regular file inside the root: a
 * symlink swapped in after the job was created cannot lead the worker out,
 * and O_NONBLOCK keeps a FIFO from hanging a thread in open().
 */
import { constants } from 'node:fs'
import { open, realpath } from 'node:fs/promises'
import { join, sep } from 'node:path'
import type { Bandwidth } from './bandwidth.js'

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

export async function readWhole(rel: string, o: ReadOptions): Promise<number> {
  const real = await realpath(join(o.root, rel))
  if (real !== o.root && !real.startsWith(o.root.endsWith(sep) ? o.root : o.root + sep)) {
    throw new ReadError('the path now leads outside the root')
  }
  const handle = await open(real, constants.O_RDONLY | constants.O_NONBLOCK)
  try {
    if (!(await handle.stat()).isFile()) throw new ReadError('not a regular file')
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
