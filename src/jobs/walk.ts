/**
 * Turns a cache job's inputs into the list of regular files to cache.
 *
 * paths.ts already refused everything that escapes the root by spelling; what
 * is left is symlinks, so every input is realpath'ed and must land inside the
 * real root. An input that escapes is the client asking for something outside:
 * the job is refused (PathError). A symlink met while walking a directory was
 * not the client's choice, so it is skipped quietly when it leads outside.
 *
 * Only regular files are taken: opening a FIFO would hang the worker, and
 * devices and sockets are not content. Directories are read once per call (a
 * visited set of real paths), which both breaks symlink cycles and bounds the
 * work a request can cause to one pass over the tree; files are de-duplicated
 * by real path. The walk is sequential with small batches of stats, so a big
 * tree on a network filesystem neither blocks the event loop nor floods the
 * libuv pool, and it stops as soon as the file limit is passed or the job's
 * signal is aborted.
 */
import type { Dirent, Stats } from 'node:fs'
import { lstat, readdir, realpath, stat } from 'node:fs/promises'
import path from 'node:path'
import { toRelative } from './paths.js'

export interface FoundFile {
  /** Absolute real path (symlinks resolved). */
  path: string
  /** Relative to the real root, POSIX separators. */
  rel: string
  size: number
}

export interface ResolveRequest {
  files: readonly string[]
  directories: readonly string[]
  recursive: boolean
}

export interface ResolveOptions {
  /** The cache root; realpath'ed once per call. */
  root: string
  mountPrefixes: readonly string[]
  /** More distinct files than this fails the job with TooManyFiles. */
  maxFiles: number
  signal?: AbortSignal
}

export interface Resolved {
  /** Input order, then directory entries sorted by name; each real path once. */
  files: FoundFile[]
  totalBytes: number
  /** Inputs, as given, that name nothing usable (at most MAX_MISSING_REPORTED). */
  missing: string[]
}

/** How many missing inputs a result lists: enough to fix a typo, bounded for the response. */
export const MAX_MISSING_REPORTED = 100
/** Stats in flight at once while reading one directory. */
const STAT_BATCH = 32

/** An input refused by spelling, or whose real path leads outside the root. */
export class PathError extends Error {
  constructor(
    readonly input: string,
    readonly reason: string,
  ) {
    super(`${reason}: ${JSON.stringify(input.length > 200 ? `${input.slice(0, 200)}…` : input)}`)
    this.name = 'PathError'
  }
}

/** The job would contain more than `max` distinct files. */
export class TooManyFiles extends Error {
  constructor(readonly max: number) {
    super(`the job matches more than ${max} files`)
    this.name = 'TooManyFiles'
  }
}

/** Errors that mean "nothing usable here": the entry is reported missing or skipped. */
const UNREACHABLE = new Set(['ENOENT', 'ENOTDIR', 'EACCES', 'EPERM', 'ELOOP', 'ENAMETOOLONG'])

function isUnreachable(err: unknown): boolean {
  return err instanceof Error && UNREACHABLE.has((err as NodeJS.ErrnoException).code ?? '')
}

/** Runs `fn`, turning an "unreachable" fs error into undefined; other errors (EIO…) fail the job. */
async function orSkip<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn()
  } catch (err) {
    if (isUnreachable(err)) return undefined
    throw err
  }
}

type Entry = { kind: 'file'; path: string; size: number } | { kind: 'dir'; path: string } | { kind: 'skip' }

const SKIP: Entry = { kind: 'skip' }

function classify(real: string, st: Stats): Entry {
  if (st.isFile()) return { kind: 'file', path: real, size: st.size }
  if (st.isDirectory()) return { kind: 'dir', path: real }
  return SKIP
}

class Walk {
  readonly files: FoundFile[] = []
  readonly missing: string[] = []
  totalBytes = 0
  private readonly seenFiles = new Set<string>()
  private readonly visitedDirs = new Set<string>()
  private readonly rootWithSep: string

  constructor(
    private readonly realRoot: string,
    private readonly recursive: boolean,
    private readonly maxFiles: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.rootWithSep = realRoot.endsWith(path.sep) ? realRoot : realRoot + path.sep
  }

  inside(real: string): boolean {
    return real === this.realRoot || real.startsWith(this.rootWithSep)
  }

  async input(input: string, rel: string): Promise<void> {
    this.signal?.throwIfAborted()
    const real = await orSkip(() => realpath(path.join(this.realRoot, rel)))
    if (real === undefined) return this.reportMissing(input)
    if (!this.inside(real)) throw new PathError(input, 'path leads outside the cache root')
    const st = await orSkip(() => stat(real))
    const entry = st ? classify(real, st) : SKIP
    if (entry.kind === 'file') return this.addFile(entry.path, entry.size)
    if (entry.kind === 'skip') return this.reportMissing(input)
    if (!(await this.dir(entry.path))) this.reportMissing(input)
  }

  private reportMissing(input: string): void {
    if (this.missing.length < MAX_MISSING_REPORTED) this.missing.push(input)
  }

  private addFile(real: string, size: number): void {
    if (this.seenFiles.has(real)) return
    this.seenFiles.add(real)
    if (this.seenFiles.size > this.maxFiles) throw new TooManyFiles(this.maxFiles)
    this.files.push({ path: real, rel: path.relative(this.realRoot, real).split(path.sep).join('/'), size })
    this.totalBytes += size
  }

  /**
   * Reads one real directory: its files, and its subdirectories when
   * recursive. Returns false when the directory could not be read.
   */
  private async dir(realDir: string): Promise<boolean> {
    if (this.visitedDirs.has(realDir)) return true
    this.visitedDirs.add(realDir)
    this.signal?.throwIfAborted()
    const dirents = await orSkip(() => readdir(realDir, { withFileTypes: true }))
    if (!dirents) return false
    dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (let i = 0; i < dirents.length; i += STAT_BATCH) {
      this.signal?.throwIfAborted()
      const batch = dirents.slice(i, i + STAT_BATCH)
      const entries = await Promise.all(batch.map((d) => this.entry(realDir, d)))
      for (const entry of entries) {
        if (entry.kind === 'file') this.addFile(entry.path, entry.size)
        else if (entry.kind === 'dir' && this.recursive) await this.dir(entry.path)
      }
    }
    return true
  }

  /** What one directory entry contributes; symlinks count only when they stay inside the root. */
  private async entry(realDir: string, d: Dirent): Promise<Entry> {
    const full = path.join(realDir, d.name)
    if (d.isDirectory()) return this.recursive ? { kind: 'dir', path: full } : SKIP
    if (d.isFile()) {
      // lstat, not stat: the entry may have been swapped for a symlink since readdir.
      const st = await orSkip(() => lstat(full))
      return st ? classify(full, st) : SKIP
    }
    if (!d.isSymbolicLink()) return SKIP
    const real = await orSkip(() => realpath(full))
    if (real === undefined || !this.inside(real)) return SKIP
    const st = await orSkip(() => stat(real))
    return st ? classify(real, st) : SKIP
  }
}

/**
 * Resolves a job's inputs to the regular files under the root. Every input is
 * checked lexically first, so a refused input fails the job before any fs work.
 * @throws PathError when an input is refused or leads outside the root
 * @throws TooManyFiles when more than `maxFiles` distinct files match
 * @throws the signal's reason when it is aborted
 */
export async function resolveJobFiles(req: ResolveRequest, o: ResolveOptions): Promise<Resolved> {
  const inputs = [...req.files, ...req.directories].map((input) => {
    const r = toRelative(input, o.mountPrefixes)
    if (!r.ok) throw new PathError(input, r.reason)
    return { input, rel: r.rel }
  })
  o.signal?.throwIfAborted()
  const walk = new Walk(await realpath(o.root), req.recursive, o.maxFiles, o.signal)
  for (const { input, rel } of inputs) await walk.input(input, rel)
  return { files: walk.files, totalBytes: walk.totalBytes, missing: walk.missing }
}
