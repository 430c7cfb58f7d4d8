/**
 * Lexical validation of the paths a client puts in a cache job.
 *
 * Clients send paths relative to the cache root, or absolute paths as they see
 * the share on their machine (macOS `/Volumes/…`, Windows `C:\…`, Linux
 * `/mnt/…`). Everything is reduced here, without touching the filesystem, to
 * one normalised POSIX path relative to the root. This is the first of two
 * fences: it refuses anything that could name a place outside the root by
 * spelling alone (`..`, foreign absolute paths, UNC and device paths, drive
 * letters in the middle), so the second fence (realpath in walk.ts) only has
 * symlinks left to worry about. Refusing `..` outright, even when it would stay
 * inside, keeps the rule simple enough to be obviously right.
 *
 * The prefixes come from config (`jobs.mountPrefixes`); this module holds no
 * defaults of its own.
 */

/** PATH_MAX on Linux, in UTF-8 bytes. */
export const MAX_PATH_BYTES = 4096
/** NAME_MAX on Linux (and most filesystems), in UTF-8 bytes. */
export const MAX_SEGMENT_BYTES = 255

export type RelativeResult = { ok: true; rel: string } | { ok: false; reason: string }

const SEPARATORS = /[\\/]/
// Control characters become part of file names on POSIX and break logs and
// terminals; NUL truncates the path in the C layer.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/
// With the `u` flag a surrogate range only matches unpaired halves: such a
// string has no UTF-8 spelling, so the fs would see U+FFFD instead.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u
const DRIVE = /^[A-Za-z]:/
// Windows device names, taken whole whatever the extension: `nul.txt` is NUL.
const DEVICE = /^(con|prn|aux|nul|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³])$/i

/** An absolute path split into a root token and its non-empty segments. */
interface AbsolutePath {
  root: string
  segments: string[]
}

/** A mount prefix, parsed once per call. */
interface Prefix extends AbsolutePath {
  /** Windows paths (drive letter or backslashes) compare case-insensitively. */
  caseInsensitive: boolean
}

const fail = (reason: string): RelativeResult => ({ ok: false, reason })

function isAbsolute(p: string): boolean {
  return p.startsWith('/') || p.startsWith('\\') || DRIVE.test(p)
}

/** Non-empty segments, without `.`, which means nothing on any OS. */
function segmentsOf(p: string): string[] {
  return p.split(SEPARATORS).filter((s) => s !== '' && s !== '.')
}

/**
 * Splits an absolute path. The root keeps what distinguishes path kinds: `/`
 * (POSIX), `C:/` (drive), `C:` (drive-relative), or a run of two or more
 * separators (UNC `\\server\share`, `//server`, devices `\\?\` and `\\.\`,
 * whose `?`/`.` becomes the first segment). Two paths can only match when their
 * roots are equal, so a UNC or device input only ever matches a prefix that is
 * literally one.
 */
function splitAbsolute(p: string): AbsolutePath {
  if (DRIVE.test(p)) {
    const drive = p.charAt(0).toUpperCase()
    const rest = p.slice(2)
    return { root: SEPARATORS.test(rest.charAt(0)) ? `${drive}:/` : `${drive}:`, segments: segmentsOf(rest) }
  }
  const lead = /^[\\/]+/.exec(p)?.[0].length ?? 0
  return { root: '/'.repeat(lead), segments: segmentsOf(p.slice(lead)) }
}

function parsePrefixes(mountPrefixes: readonly string[]): Prefix[] {
  return mountPrefixes
    .filter(isAbsolute)
    .map((raw) => ({ ...splitAbsolute(raw), caseInsensitive: DRIVE.test(raw) || raw.includes('\\') }))
}

function sameSegment(a: string, b: string, caseInsensitive: boolean): boolean {
  return caseInsensitive ? a.toLowerCase() === b.toLowerCase() : a === b
}

/** The segments of `input` below the first prefix it lies under, if any. */
function stripPrefix(input: string, mountPrefixes: readonly string[]): string[] | undefined {
  const abs = splitAbsolute(input)
  for (const prefix of parsePrefixes(mountPrefixes)) {
    if (abs.root !== prefix.root || abs.segments.length < prefix.segments.length) continue
    const under = prefix.segments.every((seg, i) => sameSegment(seg, abs.segments[i] ?? '', prefix.caseInsensitive))
    if (under) return abs.segments.slice(prefix.segments.length)
  }
  return undefined
}

function checkSegment(seg: string): string | undefined {
  if (DRIVE.test(seg)) return 'path contains a drive letter after its start'
  if (Buffer.byteLength(seg, 'utf8') > MAX_SEGMENT_BYTES) return `path segment longer than ${MAX_SEGMENT_BYTES} bytes`
  // Windows takes `nul.txt`, `NUL .mov` and `nul:stream` as the device NUL.
  const base = seg.split(/[.:]/)[0]?.replace(/ +$/, '') ?? ''
  if (DEVICE.test(base)) return 'path contains a reserved device name'
  return undefined
}

/**
 * Reduces a client path to a POSIX path relative to the cache root: `''` is
 * the root itself, otherwise non-empty segments joined by `/`, never `.` or
 * `..`. Purely lexical; symlinks are walk.ts's business.
 */
export function toRelative(input: string, mountPrefixes: readonly string[]): RelativeResult {
  if (input === '') return fail('empty path')
  if (Buffer.byteLength(input, 'utf8') > MAX_PATH_BYTES) return fail(`path longer than ${MAX_PATH_BYTES} bytes`)
  if (CONTROL.test(input)) return fail('path contains a control character')
  if (LONE_SURROGATE.test(input)) return fail('path is not valid Unicode')
  if (input.split(SEPARATORS).includes('..')) return fail('path contains ".."')

  let segments: string[]
  if (isAbsolute(input)) {
    const under = stripPrefix(input, mountPrefixes)
    if (!under) return fail('absolute path outside the mount prefixes')
    segments = under
  } else {
    segments = segmentsOf(input)
  }
  for (const seg of segments) {
    const reason = checkSegment(seg)
    if (reason) return fail(reason)
  }
  return { ok: true, rel: segments.join('/') }
}
