/**
 * Opening paths under jobs.root without ever following a symbolic link.
 *
 * Checking a path string and then using it is a race: a folder can be swapped
 * for a symlink to anywhere between the check and the use. So nothing here
 * trusts a path below the root. The root is opened once as a folder, and each
 * component is opened relative to the folder before it, the way openat(2)
 * with O_NOFOLLOW does: Node has no openat, so the parent is named through
 * `/proc/self/fd/<fd>/<name>`, where the kernel resolves `<fd>` to the very
 * folder that is open (not to a path that could have changed) and O_NOFOLLOW
 * refuses `<name>` when it is a symlink. What an opened handle is comes from
 * fstat on it; the entries of a listed folder are looked at with lstat
 * through the folder's descriptor (walk.ts); never through a path that could
 * lead elsewhere.
 *
 * Symlinks below the root are not followed at all: following one safely
 * would mean resolving it by hand, component by component, against the root,
 * which is a second resolver to get right for a feature cache jobs do not
 * need (a client names the real files). `/proc/self/fd` makes this Linux-only;
 * `checkProcFd` fails the start elsewhere instead of failing every job.
 */
import { constants, existsSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import type { FsLane } from './fs-lane.js'

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = constants

/** A folder: ENOTDIR when the name is a symlink (even to a folder) or not a folder. */
export const FOLDER_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW
/** A file or a folder: ELOOP when the name is a symlink; O_NONBLOCK keeps a FIFO from hanging open(). */
export const ENTRY_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK

/** The errors of a path that goes through (or ends at) a symlink, or through something that is not a folder. */
export const NOT_FOLLOWED = new Set(['ELOOP', 'ENOTDIR'])

const PROC_FD = '/proc/self/fd'

/** `name` inside the folder open as `dir`, as a path the kernel resolves from that folder: openat(dir, name). */
export function at(dir: FileHandle, name: string): string {
  return `${PROC_FD}/${dir.fd}/${name}`
}

/** The folder open as `dir`, as a path (for readdir, which takes no handle). */
export function self(dir: FileHandle): string {
  return `${PROC_FD}/${dir.fd}`
}

/** Throws when `/proc/self/fd` is missing (not Linux, or /proc not mounted): jobs could never read a file. */
export function checkProcFd(): void {
  if (!existsSync(PROC_FD)) {
    throw new Error(`cache jobs (jobs.root) need Linux's ${PROC_FD} to open files without following symlinks; it is missing here`)
  }
}

/** Opens the real root. O_NOFOLLOW: a symlink swapped in for its last component is refused. */
export function openRoot(lane: FsLane, realRoot: string): Promise<FileHandle> {
  return lane.open(realRoot, FOLDER_FLAGS, 'opening the cache root')
}

/**
 * Opens `rel` (non-empty, `/`-separated, no `.` or `..`: see paths.ts) below
 * the folder `dir`, one component at a time: every folder on the way with
 * FOLDER_FLAGS, the last component with ENTRY_FLAGS (it may be a file or a
 * folder; fstat tells). Rejects like open(2): ELOOP or ENOTDIR when the path
 * goes through a symlink, ENOENT…; or StorageStalled, named `what`, past the
 * lane's deadline. The folders opened on the way are closed, whatever
 * happens; `dir` stays open.
 */
export async function openBelow(lane: FsLane, dir: FileHandle, rel: string, what: string): Promise<FileHandle> {
  const names = rel.split('/')
  const last = names.pop()!
  let parent = dir
  try {
    for (const name of names) {
      const previous = parent
      parent = await lane.open(at(parent, name), FOLDER_FLAGS, what)
      if (previous !== dir) lane.close(previous)
    }
    return await lane.open(at(parent, last), ENTRY_FLAGS, what)
  } finally {
    if (parent !== dir) lane.close(parent)
  }
}
