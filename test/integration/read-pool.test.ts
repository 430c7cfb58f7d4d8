/** The read threads behind uncapped cache jobs, on real files. */
import { execFileSync } from 'node:child_process'
import { open, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { realpathSync } from 'node:fs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ReadPool } from '../../src/jobs/read-pool.js'
import { tempRoot, type TempRoot } from '../helpers/job-files.js'

let root: TempRoot
let pool: ReadPool
beforeEach(async () => {
  root = await tempRoot()
  pool = new ReadPool({ root: realpathSync(root.dir), size: 2, timeoutMs: 30_000, chunk: 64 * 1024 })
})
afterEach(async () => {
  await pool.close()
  await root.remove()
})

const never = new AbortController().signal

describe('ReadPool', () => {
  it('reads whole files, reporting every byte, two at a time', async () => {
    const sizes = [0, 1, 65_536, 65_537, 3_000_000]
    for (const [i, size] of sizes.entries()) await root.file(`f${i}`, size)
    let reported = 0
    const totals = await Promise.all(sizes.map((_, i) => pool.read(`f${i}`, never, (n) => (reported += n))))
    expect(totals).toEqual(sizes)
    expect(reported).toBe(sizes.reduce((a, b) => a + b))
  })

  it('fails like fs does, and refuses what is not a regular file inside the root, or a path through a symlink', async () => {
    await expect(pool.read('missing', never, () => {})).rejects.toMatchObject({ code: 'ENOENT' })
    await symlink('/etc/hostname', join(root.dir, 'out'))
    await expect(pool.read('out', never, () => {})).rejects.toMatchObject({ code: 'ELOOP' })
    await root.file('real/in.bin', 3)
    await symlink('real', join(root.dir, 'linked'))
    await symlink('in.bin', join(root.dir, 'real', 'alias.bin'))
    await expect(pool.read('linked/in.bin', never, () => {})).rejects.toMatchObject({ code: 'ENOTDIR' })
    await expect(pool.read('real/alias.bin', never, () => {})).rejects.toMatchObject({ code: 'ELOOP' })
    expect(await pool.read('real/in.bin', never, () => {})).toBe(3)
    execFileSync('mkfifo', [join(root.dir, 'fifo')])
    await expect(pool.read('fifo', never, () => {})).rejects.toMatchObject({ name: 'ReadError', message: 'not a regular file' })
    await root.file('ok', 10)
    expect(await pool.read('ok', never, () => {})).toBe(10)
  })

  it('stops a read between chunks when its signal aborts', async () => {
    // A sparse 50 GB file: reading it all would take seconds.
    const handle = await open(join(root.dir, 'huge'), 'w')
    await handle.truncate(50 * 1024 ** 3)
    await handle.close()
    const ctl = new AbortController()
    let bytes = 0
    const reading = pool.read('huge', ctl.signal, (n) => (bytes += n))
    setTimeout(() => ctl.abort(new Error('cancelled')), 100)
    const started = Date.now()
    await expect(reading).rejects.toThrow('cancelled')
    expect(Date.now() - started).toBeLessThan(1_000)
    expect(bytes).toBeLessThan(50 * 1024 ** 3)
    // The thread is free again.
    await root.file('after', 5)
    expect(await pool.read('after', never, () => {})).toBe(5)
  })

  it('rejects what is still waiting when it closes', async () => {
    const handle = await open(join(root.dir, 'huge'), 'w')
    await handle.truncate(50 * 1024 ** 3)
    await handle.close()
    const reads = Promise.allSettled([1, 2, 3].map(() => pool.read('huge', never, () => {})))
    await pool.close()
    for (const r of await reads) expect(r).toMatchObject({ status: 'rejected', reason: { message: 'read pool closed' } })
  })
})
