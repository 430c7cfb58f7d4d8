/**
 * resolveJobFiles against a real tree in a temp dir: symlinks (not followed:
 * inputs through them are missing, or refused when they lead outside; those
 * met in folders are skipped), a FIFO, duplicates reached several ways,
 * limits and cancellation. The tests run as root in CI, where chmod cannot
 * deny anything, so an unreadable directory is simulated by making `readdir`
 * fail with EACCES for chosen folders; every other fs call is the real one.
 */
import { execFileSync } from 'node:child_process'
import { readlinkSync, type PathLike } from 'node:fs'
import type * as FsPromises from 'node:fs/promises'
import { link, mkdir, mkdtemp, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { FsLane } from '../../src/jobs/fs-lane.js'
import { PathError, TooManyFiles, resolveJobFiles } from '../../src/jobs/walk.js'
import type { ResolveOptions, ResolveRequest, Resolved } from '../../src/jobs/walk.js'

/** The seed's mount points (macOS, Windows, Linux). */
const SEED_PREFIXES = ['/Volumes/dmpfs/tc-east-1', 'C:\\dmpfs\\tc-east-1', '/mnt/lucidlink/tc-east-1']

const denied = vi.hoisted(() => new Set<string>())

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof FsPromises>()
  const realReaddir = real.readdir as (p: PathLike, o?: unknown) => Promise<unknown>
  const readdir = (async (p: PathLike, o?: unknown) => {
    // The walk lists folders from their descriptors (/proc/self/fd/<fd>): the link names the folder.
    const folder = String(p).startsWith('/proc/self/fd/') ? readlinkSync(String(p)) : String(p)
    if (denied.has(folder)) {
      throw Object.assign(new Error(`EACCES: permission denied, scandir '${String(p)}'`), { code: 'EACCES' })
    }
    return realReaddir(p, o)
  }) as typeof real.readdir
  return { ...real, readdir, default: { ...real, readdir } }
})

let tmp: string
/** The root as the job sees it (through a symlink); `realRoot` is what it resolves to. */
let root: string
let realRoot: string

const SIZES: Record<string, number> = {
  '00_Media/video.mp4': 10,
  '00_Media/Farm/ProRes422/Farm00103.mov': 100,
  '00_Media/Farm/ProRes422/Farm00104.mov': 200,
  '00_Media/Farm/notes.txt': 5,
  'cycle/a/deep.bin': 7,
  'restricted/open/ok.bin': 3,
  'restricted/locked/hidden.bin': 4,
}

beforeAll(async () => {
  tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), 'roomgate-walk-')))
  realRoot = path.join(tmp, 'root')
  root = path.join(tmp, 'root-link')
  await mkdir(path.join(tmp, 'outside'))
  await writeFile(path.join(tmp, 'outside', 'secret.txt'), 'secret')
  for (const [rel, size] of Object.entries(SIZES)) {
    await mkdir(path.dirname(path.join(realRoot, rel)), { recursive: true })
    await writeFile(path.join(realRoot, rel), Buffer.alloc(size, 1))
  }
  await mkdir(path.join(realRoot, '00_Media', 'empty'))
  const links: Array<[string, string]> = [
    ['00_Media/link-to-farm', 'Farm'],
    ['00_Media/link-to-video', 'video.mp4'],
    ['00_Media/escape-dir', '../../outside'],
    ['00_Media/escape-file', '../../outside/secret.txt'],
    ['00_Media/loop', '.'],
    ['00_Media/selfloop', 'selfloop'],
    ['00_Media/dangling', 'nothing-here'],
    ['cycle/a/b/back', '../..'],
    ['top-escape', '../outside'],
  ]
  for (const [at, target] of links) {
    await mkdir(path.dirname(path.join(realRoot, at)), { recursive: true })
    await symlink(target, path.join(realRoot, at))
  }
  execFileSync('mkfifo', [path.join(realRoot, '00_Media', 'fifo')])
  // A second name of 00_Media/video.mp4: the same file.
  await mkdir(path.join(realRoot, 'hard'))
  await link(path.join(realRoot, '00_Media/video.mp4'), path.join(realRoot, 'hard/copy.mp4'))
  await symlink(realRoot, root)
})

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true })
})

beforeEach(() => denied.clear())

function opts(extra: Partial<ResolveOptions> = {}): ResolveOptions {
  return { root, lane: new FsLane({ timeoutMs: 30_000 }), mountPrefixes: SEED_PREFIXES, maxFiles: 1000, ...extra }
}

function req(r: Partial<ResolveRequest>): ResolveRequest {
  return { files: [], directories: [], recursive: true, ...r }
}

const rels = (r: Resolved): string[] => r.files.map((f) => f.rel)

async function refusal(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.fail('expected a rejection'),
    (err: unknown) => err,
  )
}

describe('resolveJobFiles: inputs', () => {
  it('resolves a relative file to its real path, POSIX rel and size', async () => {
    const r = await resolveJobFiles(req({ files: ['00_Media/Farm/ProRes422/Farm00103.mov'] }), opts())
    expect(r).toEqual({
      files: [{ path: path.join(realRoot, '00_Media/Farm/ProRes422/Farm00103.mov'), rel: '00_Media/Farm/ProRes422/Farm00103.mov', size: 100 }],
      totalBytes: 100,
      missing: [],
    })
  })

  it('maps macOS, Windows and Linux absolute paths to the same file, counted once', async () => {
    const r = await resolveJobFiles(
      req({
        files: [
          '/Volumes/dmpfs/tc-east-1/00_Media/video.mp4',
          'C:\\dmpfs\\tc-east-1\\00_Media\\video.mp4',
          '/mnt/lucidlink/tc-east-1/00_Media/video.mp4',
          '00_Media\\video.mp4',
        ],
      }),
      opts(),
    )
    expect(r.files).toEqual([{ path: path.join(realRoot, '00_Media/video.mp4'), rel: '00_Media/video.mp4', size: 10 }])
    expect(r.totalBytes).toBe(10)
  })

  it('walks a directory recursively, sorted by name, skipping every symlink (inside the root too) and the FIFO', async () => {
    const r = await resolveJobFiles(req({ directories: ['00_Media'] }), opts())
    expect(rels(r)).toEqual([
      '00_Media/Farm/ProRes422/Farm00103.mov',
      '00_Media/Farm/ProRes422/Farm00104.mov',
      '00_Media/Farm/notes.txt',
      '00_Media/video.mp4',
    ])
    expect(r.totalBytes).toBe(315)
    expect(r.missing).toEqual([])
  })

  it('takes only the files directly inside when not recursive', async () => {
    const r = await resolveJobFiles(req({ directories: ['00_Media', '00_Media/Farm'], recursive: false }), opts())
    expect(rels(r)).toEqual(['00_Media/video.mp4', '00_Media/Farm/notes.txt'])
    expect(r.totalBytes).toBe(15)
  })

  it('expands a directory listed as a file and takes a file listed as a directory', async () => {
    const r = await resolveJobFiles(req({ files: ['00_Media/Farm/ProRes422'], directories: ['00_Media/Farm/notes.txt'] }), opts())
    expect(rels(r)).toEqual(['00_Media/Farm/ProRes422/Farm00103.mov', '00_Media/Farm/ProRes422/Farm00104.mov', '00_Media/Farm/notes.txt'])
  })

  it('counts a file once when reached by several inputs and names (a hard link)', async () => {
    const r = await resolveJobFiles(
      req({ files: ['hard/copy.mp4', '00_Media/video.mp4'], directories: ['00_Media', '00_Media/Farm', 'hard'] }),
      opts(),
    )
    expect(rels(r)).toEqual([
      'hard/copy.mp4',
      '00_Media/Farm/ProRes422/Farm00103.mov',
      '00_Media/Farm/ProRes422/Farm00104.mov',
      '00_Media/Farm/notes.txt',
    ])
    expect(r.totalBytes).toBe(315)
    expect(r.missing).toEqual([])
  })

  it('does not follow a symlink inside the root: an input that is one, or goes through one, is missing', async () => {
    const inputs = ['00_Media/link-to-video', '00_Media/link-to-farm', '00_Media/link-to-farm/notes.txt', '00_Media/loop/video.mp4']
    const r = await resolveJobFiles(req({ files: inputs, directories: ['00_Media/Farm/ProRes422'] }), opts())
    expect(rels(r)).toEqual(['00_Media/Farm/ProRes422/Farm00103.mov', '00_Media/Farm/ProRes422/Farm00104.mov'])
    expect(r.missing).toEqual(inputs)
  })

  it('the root itself, as "." or a bare prefix, is the whole tree', async () => {
    const r = await resolveJobFiles(req({ directories: ['.', 'C:\\dmpfs\\tc-east-1'] }), opts())
    expect(new Set(rels(r))).toEqual(new Set(Object.keys(SIZES)))
    expect(r.totalBytes).toBe(Object.values(SIZES).reduce((a, b) => a + b, 0))
  })

  it('does not walk into a symlink back up the tree (no cycle), and finds what is in the folders', async () => {
    const r = await resolveJobFiles(req({ directories: ['cycle', 'cycle/a/b/back/a/b/back/a'] }), opts())
    expect(rels(r)).toEqual(['cycle/a/deep.bin'])
    expect(r.missing).toEqual(['cycle/a/b/back/a/b/back/a'])
  })
})

describe('resolveJobFiles: missing inputs', () => {
  it('lists inputs that name nothing usable, as given, in order', async () => {
    const inputs = ['nope.mov', '00_Media/video.mp4/child', '00_Media/selfloop', '00_Media/dangling', '00_Media/fifo', 'C:\\dmpfs\\tc-east-1\\Nope']
    const r = await resolveJobFiles(req({ files: inputs, directories: ['00_Media/empty'] }), opts())
    expect(r.files).toEqual([])
    expect(r.missing).toEqual(inputs)
  })

  it('reports at most 100 missing inputs', async () => {
    const inputs = Array.from({ length: 150 }, (_, i) => `missing-${i}.mov`)
    const r = await resolveJobFiles(req({ files: inputs }), opts())
    expect(r.missing).toEqual(inputs.slice(0, 100))
  })

  it('skips an unreadable subdirectory and reports an unreadable input as missing', async () => {
    denied.add(path.join(realRoot, 'restricted/locked'))
    const walked = await resolveJobFiles(req({ directories: ['restricted'] }), opts())
    expect(rels(walked)).toEqual(['restricted/open/ok.bin'])
    expect(walked.missing).toEqual([])

    const direct = await resolveJobFiles(req({ directories: ['restricted/locked', 'restricted/open'] }), opts())
    expect(rels(direct)).toEqual(['restricted/open/ok.bin'])
    expect(direct.missing).toEqual(['restricted/locked'])
  })
})

describe('resolveJobFiles: refusals', () => {
  const escapes = ['top-escape', 'top-escape/secret.txt', '00_Media/escape-dir', '00_Media/escape-file', '/mnt/lucidlink/tc-east-1/00_Media/escape-file']
  for (const input of escapes) {
    it(`refuses ${input}, a symlink leading outside the root`, async () => {
      const err = await refusal(resolveJobFiles(req({ files: ['00_Media/video.mp4', input] }), opts()))
      expect(err).toBeInstanceOf(PathError)
      expect(err).toMatchObject({ input, reason: 'path leads outside the cache root' })
    })
  }

  it('refuses a lexically bad input before touching the filesystem', async () => {
    const missingRoot = path.join(tmp, 'no-such-root')
    for (const input of ['../outside/secret.txt', '/etc/passwd', '\\\\server\\share\\x', 'a\u0000b', '']) {
      const err = await refusal(resolveJobFiles(req({ files: ['00_Media/video.mp4'], directories: [input] }), opts({ root: missingRoot })))
      expect(err).toBeInstanceOf(PathError)
      expect(err).toMatchObject({ input })
    }
  })

  it('throws TooManyFiles past maxFiles, counting distinct files only', async () => {
    const all = req({ directories: ['00_Media'] })
    await expect(resolveJobFiles(all, opts({ maxFiles: 4 }))).resolves.toMatchObject({ totalBytes: 315 })
    const err = await refusal(resolveJobFiles(all, opts({ maxFiles: 3 })))
    expect(err).toBeInstanceOf(TooManyFiles)
    expect(err).toMatchObject({ max: 3 })
    const twice = req({ files: ['00_Media/video.mp4', '00_Media/link-to-video', '/Volumes/dmpfs/tc-east-1/00_Media/video.mp4'] })
    await expect(resolveJobFiles(twice, opts({ maxFiles: 1 }))).resolves.toMatchObject({ totalBytes: 10 })
  })

  it('stops with the signal reason when aborted before or during the walk', async () => {
    const reason = new Error('job cancelled')
    await expect(resolveJobFiles(req({ directories: ['.'] }), opts({ signal: AbortSignal.abort(reason) }))).rejects.toBe(reason)

    const ac = new AbortController()
    const pending = resolveJobFiles(req({ directories: ['.'] }), opts({ signal: ac.signal }))
    ac.abort(reason)
    await expect(pending).rejects.toBe(reason)
  })
})

describe('resolveJobFiles: property', () => {
  // Places in the tree (symlinks included) to start from, then names to append:
  // most inputs are plausible, some are hostile, all are spelled several ways.
  const PLACES = [
    '', '00_Media', '00_Media/Farm', '00_Media/link-to-farm', '00_Media/loop/loop', '00_Media/escape-dir', '00_Media/link-to-video',
    'cycle/a/b/back', 'top-escape', 'restricted', 'hard',
  ]
  const NAMES = [
    '00_Media', 'Farm', 'ProRes422', 'Farm00103.mov', 'video.mp4', 'notes.txt', 'empty', 'link-to-farm', 'link-to-video',
    'escape-dir', 'escape-file', 'top-escape', 'loop', 'selfloop', 'dangling', 'fifo', 'secret.txt', 'outside', 'root', 'a', 'b',
    'back', '.', '', 'nope', 'copy.mp4',
  ]
  const HOSTILE = ['..', 'C:', '/', '\\', '\u0000']

  it('never returns a file whose real path is outside the root', async () => {
    const sep = fc.constantFrom('/', '\\')
    const plausible = fc
      .tuple(
        fc.constantFrom('', ...SEED_PREFIXES, 'c:/dmpfs/TC-EAST-1'),
        fc.constantFrom(...PLACES),
        fc.array(fc.constantFrom(...NAMES), { maxLength: 3 }),
        sep,
      )
      .map(([prefix, place, names, s]) => [prefix, ...place.split('/'), ...names].filter((x, i) => i > 0 || x !== '').join(s))
    const hostile = fc
      .tuple(
        fc.constantFrom('', ...SEED_PREFIXES, '/', '\\\\server', tmp),
        fc.array(fc.constantFrom(...NAMES, ...HOSTILE), { maxLength: 5 }),
        sep,
      )
      .map(([prefix, names, s]) => (prefix === '' ? names.join(s) : prefix + s + names.join(s)))
    const input = fc.oneof({ arbitrary: plausible, weight: 6 }, { arbitrary: hostile, weight: 1 })
    const request = fc.record({
      files: fc.array(input, { maxLength: 2 }),
      directories: fc.array(input, { maxLength: 2 }),
      recursive: fc.boolean(),
    })
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        let result: Resolved
        try {
          result = await resolveJobFiles(r, opts())
        } catch (err) {
          expect(err).toBeInstanceOf(PathError)
          expect([...r.files, ...r.directories]).toContain((err as PathError).input)
          return
        }
        let total = 0
        const inodes = new Set<bigint>()
        for (const f of result.files) {
          expect(await realpath(f.path)).toBe(f.path)
          expect(f.path.startsWith(realRoot + path.sep)).toBe(true)
          expect(path.join(realRoot, f.rel)).toBe(f.path)
          const st = await stat(f.path, { bigint: true })
          expect(Number(st.size)).toBe(f.size)
          inodes.add(st.ino)
          total += f.size
        }
        expect(inodes.size).toBe(result.files.length)
        expect(result.totalBytes).toBe(total)
      }),
      { numRuns: 200 },
    )
  })
})
