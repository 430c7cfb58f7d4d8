/**
 * Turns a cache job's inputs into the list of regular files to cache.
 *
 * paths.ts already refused everything that escapes the root by spelling; what
 * is left is symlinks, and the race of a folder swapped for one while the walk
 * runs. So the walk holds file descriptors, not paths (see under-root.ts): the
 * root is opened once, every input is opened component by component below it
 * without following symlinks, folders are listed from their own descriptor,
 * and their entries are looked at through it.
 *
 * Symlinks are not followed. An input that goes through one is the client
 * naming something by a path the worker will not read: it is reported missing,
 * except when the link leads outside the root, which stays a refusal of the
 * whole job (PathError), as clients know it. A symlink met inside a folder was
 * not the client's choice and is skipped quietly.
 *
 * Only regular files are taken: opening a FIFO would hang the worker, and
 * devices and sockets are not content. Folders and files are known by their
 * device and inode: a folder is read once per call (bind mounts can still make
 * cycles) and a file reached several ways (hard links, overlapping inputs)
 * counts once. The walk is sequential with small batches of stats, so a big
 * tree on a network filesystem neither blocks the event loop nor floods the
 * libuv pool, and it stops as soon as the file limit is passed or the job's
 * signal is aborted. Every descriptor is closed on every path out. Every fs
 * call goes through the jobs' FsLane: a stalled mount fails the walk with
 * StorageStalled (the call named, with its path) instead of hanging it.
 */
import type { BigIntStats, Dirent } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import path from 'node:path'
import type { FsLane } from './fs-lane.js'
import { toRelative } from './paths.js'
import { at, FOLDER_FLAGS, NOT_FOLLOWED, openBelow, openRoot, self } from './under-root.js'

export interface FoundFile {
  /** Absolute path: the real root, then `rel` (no symlink on the way). */
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
  /** Where every fs call runs, under a deadline. */
  lane: FsLane
  mountPrefixes: readonly string[]
  /** More distinct files than this fails the job with TooManyFiles. */
  maxFiles: number
  signal?: AbortSignal
}

export interface Resolved {
  /** Input order, then directory entries sorted by name; each file (device and inode) once. */
  files: FoundFile[]
  totalBytes: number
  /** Inputs, as given, that name nothing usable (at most MAX_MISSING_REPORTED). */
  missing: string[]
}

/** How many missing inputs a result lists: enough to fix a typo, bounded for the response. */
export const MAX_MISSING_REPORTED = 100
/** Stats in flight at once while reading one directory. */
const STAT_BATCH = 32

/** An input refused by spelling, or that is (or goes through) a symlink leading outside the root. */
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

const codeOf = (err: unknown): string => (err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? '') : '')

/** Runs `fn`, turning an "unreachable" fs error into undefined; other errors (EIO…) fail the job. */
async function orSkip<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn()
  } catch (err) {
    if (UNREACHABLE.has(codeOf(err))) return undefined
    throw err
  }
}

/** A file or folder's identity: the same inode reached by two names is one. */
const identity = (st: BigIntStats): string => `${st.dev}:${st.ino}`

const join = (rel: string, name: string): string => (rel === '' ? name : `${rel}/${name}`)
/** A path as error messages show it. */
const quote = (rel: string): string => `"${rel === '' ? '.' : rel}"`

type Entry = { kind: 'file'; rel: string; st: BigIntStats } | { kind: 'dir'; rel: string; name: string } | { kind: 'skip' }

const SKIP: Entry = { kind: 'skip' }

class Walk {
  readonly files: FoundFile[] = []
  readonly missing: string[] = []
  totalBytes = 0
  private readonly seenFiles = new Set<string>()
  private readonly visitedDirs = new Set<string>()
  private readonly rootWithSep: string

  constructor(
    private readonly lane: FsLane,
    private readonly realRoot: string,
    private readonly root: FileHandle,
    private readonly recursive: boolean,
    private readonly maxFiles: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.rootWithSep = realRoot.endsWith(path.sep) ? realRoot : realRoot + path.sep
  }

  async input(input: string, rel: string): Promise<void> {
    this.signal?.throwIfAborted()
    if (rel === '') return this.opened(input, rel, this.root)
    let handle: FileHandle
    try {
      handle = await openBelow(this.lane, this.root, rel, `opening ${quote(rel)}`)
    } catch (err) {
      if (!UNREACHABLE.has(codeOf(err))) throw err
      if (NOT_FOLLOWED.has(codeOf(err)) && (await this.leadsOutside(rel))) throw new PathError(input, 'path leads outside the cache root')
      return this.reportMissing(input)
    }
    try {
      await this.opened(input, rel, handle)
    } finally {
      this.lane.close(handle)
    }
  }

  /** An input opened without following a symlink: a regular file, or a folder to walk. */
  private async opened(input: string, rel: string, handle: FileHandle): Promise<void> {
    const st = await this.lane.stat(handle, `looking at ${quote(rel)}`)
    if (st.isFile()) return this.addFile(rel, st)
    if (!st.isDirectory() || !(await this.dir(handle, rel, st))) this.reportMissing(input)
  }

  /**
   * Whether a path that goes through a symlink would land outside the root if
   * it were followed. Only the answer to the client depends on it (400 or
   * "not found"): nothing is opened through this path, so it may race.
   */
  private async leadsOutside(rel: string): Promise<boolean> {
    const real = await orSkip(() => this.lane.realpath(path.join(this.realRoot, rel), `resolving ${quote(rel)}`))
    return real !== undefined && real !== this.realRoot && !real.startsWith(this.rootWithSep)
  }

  private reportMissing(input: string): void {
    if (this.missing.length < MAX_MISSING_REPORTED) this.missing.push(input)
  }

  private addFile(rel: string, st: BigIntStats): void {
    const id = identity(st)
    if (this.seenFiles.has(id)) return
    this.seenFiles.add(id)
    if (this.seenFiles.size > this.maxFiles) throw new TooManyFiles(this.maxFiles)
    const size = Number(st.size)
    this.files.push({ path: path.join(this.realRoot, rel), rel, size })
    this.totalBytes += size
  }

  /**
   * Reads the open folder `dir`: its files, and its subfolders when recursive.
   * Returns false when it could not be listed.
   */
  private async dir(dir: FileHandle, rel: string, st: BigIntStats): Promise<boolean> {
    const id = identity(st)
    if (this.visitedDirs.has(id)) return true
    this.visitedDirs.add(id)
    this.signal?.throwIfAborted()
    const dirents = await orSkip(() => this.lane.readdir(self(dir), `listing ${quote(rel)}`))
    if (!dirents) return false
    dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (let i = 0; i < dirents.length; i += STAT_BATCH) {
      this.signal?.throwIfAborted()
      const batch = dirents.slice(i, i + STAT_BATCH)
      const entries = await Promise.all(batch.map((d) => this.entry(dir, rel, d)))
      for (const entry of entries) {
        if (entry.kind === 'file') this.addFile(entry.rel, entry.st)
        else if (entry.kind === 'dir') await this.subdir(dir, entry.rel, entry.name)
      }
    }
    return true
  }

  /** Opens a subfolder from its parent's descriptor; one swapped for a symlink since the listing is skipped (ENOTDIR). */
  private async subdir(parent: FileHandle, rel: string, name: string): Promise<void> {
    const handle = await orSkip(() => this.lane.open(at(parent, name), FOLDER_FLAGS, `opening ${quote(rel)}`))
    if (!handle) return
    try {
      await this.dir(handle, rel, await this.lane.stat(handle, `looking at ${quote(rel)}`))
    } finally {
      this.lane.close(handle)
    }
  }

  /**
   * What one entry of the open folder `dir` contributes. A file is looked at
   * with lstat through the folder's descriptor, fstatat(dir, name,
   * AT_SYMLINK_NOFOLLOW): as safe as opening it (the folder is pinned, a
   * symlink is seen as one), at one call instead of three (open, fstat,
   * close), which is what a 100 000-file walk on a network mount pays for.
   * The worker opens the file itself, again without following symlinks.
   */
  private async entry(dir: FileHandle, parentRel: string, d: Dirent): Promise<Entry> {
    const rel = join(parentRel, d.name)
    if (d.isDirectory()) return this.recursive ? { kind: 'dir', rel, name: d.name } : SKIP
    if (!d.isFile()) return SKIP
    const st = await orSkip(() => this.lane.lstat(at(dir, d.name), `looking at ${quote(rel)}`))
    return st?.isFile() ? { kind: 'file', rel, st } : SKIP
  }
}

/**
 * Resolves a job's inputs to the regular files under the root. Every input is
 * checked lexically first, so a refused input fails the job before any fs work.
 * @throws PathError when an input is refused or leads outside the root
 * @throws TooManyFiles when more than `maxFiles` distinct files match
 * @throws StorageStalled when a call passes the lane's deadline, or the lane is full of stuck calls
 * @throws the signal's reason when it is aborted
 */
export async function resolveJobFiles(req: ResolveRequest, o: ResolveOptions): Promise<Resolved> {
  const inputs = [...req.files, ...req.directories].map((input) => {
    const r = toRelative(input, o.mountPrefixes)
    if (!r.ok) throw new PathError(input, r.reason)
    return { input, rel: r.rel }
  })
  o.signal?.throwIfAborted()
  const realRoot = await o.lane.realpath(o.root, 'resolving the cache root')
  const root = await openRoot(o.lane, realRoot)
  try {
    const walk = new Walk(o.lane, realRoot, root, req.recursive, o.maxFiles, o.signal)
    for (const { input, rel } of inputs) await walk.input(input, rel)
    return { files: walk.files, totalBytes: walk.totalBytes, missing: walk.missing }
  } finally {
    o.lane.close(root)
  }
}
