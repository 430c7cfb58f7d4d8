/**
 * toRelative is the lexical fence of cache jobs: every client path passes it
 * before the filesystem is touched. The tables pin each rule with the seed's
 * own examples; the properties check that no spelling, however odd, yields a
 * path that leaves the root once joined to it.
 */
import path from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { toRelative } from '../../src/jobs/paths.js'

/** The seed's mount points (macOS, Windows, Linux), spelled out so the tests pin them. */
const SEED_PREFIXES = ['/Volumes/dmpfs/tc-east-1', 'C:\\dmpfs\\tc-east-1', '/mnt/lucidlink/tc-east-1']
const P = SEED_PREFIXES

interface Case {
  desc: string
  input: string
  rel?: string
  reason?: RegExp
}

const accepted: Case[] = [
  { desc: 'seed relative file', input: '00_Media/Farm/ProRes422/Farm00103.mov', rel: '00_Media/Farm/ProRes422/Farm00103.mov' },
  { desc: 'seed relative directory', input: '00_Media/Farm', rel: '00_Media/Farm' },
  { desc: 'seed macOS absolute', input: '/Volumes/dmpfs/tc-east-1/00_Media/video.mp4', rel: '00_Media/video.mp4' },
  { desc: 'seed Windows absolute', input: 'C:\\dmpfs\\tc-east-1\\00_Media\\video.mp4', rel: '00_Media/video.mp4' },
  { desc: 'seed Linux absolute', input: '/mnt/lucidlink/tc-east-1/00_Media/video.mp4', rel: '00_Media/video.mp4' },
  { desc: 'Windows prefix with forward slashes', input: 'C:/dmpfs/tc-east-1/00_Media/video.mp4', rel: '00_Media/video.mp4' },
  { desc: 'Windows prefix, mixed separators', input: 'C:\\dmpfs/tc-east-1\\00_Media/video.mp4', rel: '00_Media/video.mp4' },
  { desc: 'Windows prefix is case-insensitive', input: 'c:\\DMPFS\\TC-East-1\\00_Media\\video.mp4', rel: '00_Media/video.mp4' },
  { desc: 'rest keeps its case', input: 'C:\\dmpfs\\tc-east-1\\00_MEDIA\\Video.MP4', rel: '00_MEDIA/Video.MP4' },
  { desc: 'backslashes in a relative path', input: '00_Media\\Farm\\a.mov', rel: '00_Media/Farm/a.mov' },
  { desc: 'doubled and trailing separators collapse', input: '00_Media//Farm///a.mov/', rel: '00_Media/Farm/a.mov' },
  { desc: '"." segments drop', input: './00_Media/./a.mov', rel: '00_Media/a.mov' },
  { desc: '"." alone is the root', input: '.', rel: '' },
  { desc: 'a prefix alone is the root', input: '/mnt/lucidlink/tc-east-1', rel: '' },
  { desc: 'a prefix with trailing slash is the root', input: '/Volumes/dmpfs/tc-east-1/', rel: '' },
  { desc: 'Windows prefix alone is the root', input: 'C:\\dmpfs\\tc-east-1\\', rel: '' },
  { desc: 'POSIX prefix spelled with backslashes', input: '\\mnt\\lucidlink\\tc-east-1\\a', rel: 'a' },
  { desc: 'doubled separators inside the prefix', input: '/mnt//lucidlink/tc-east-1/a', rel: 'a' },
  { desc: 'dots inside names are fine', input: 'a..b/...', rel: 'a..b/...' },
  { desc: 'a leading dot is fine', input: '.hidden/..x', rel: '.hidden/..x' },
  { desc: 'a colon not after a drive letter', input: 'Scene 1: intro/a.mov', rel: 'Scene 1: intro/a.mov' },
  { desc: '%2e is a name, not an escape', input: '%2e%2e/a', rel: '%2e%2e/a' },
  { desc: '~ is a name, not home', input: '~/a', rel: '~/a' },
  { desc: 'unicode names', input: 'Prüfung/日本語/🎬.mov', rel: 'Prüfung/日本語/🎬.mov' },
  { desc: 'a device name inside a longer name', input: 'CONSOLE/com10/nul_x.txt', rel: 'CONSOLE/com10/nul_x.txt' },
  { desc: 'segment of exactly 255 bytes', input: 'é'.repeat(127) + 'x', rel: 'é'.repeat(127) + 'x' },
  { desc: 'path of exactly 4096 bytes', input: Array(16).fill('a'.repeat(255)).join('/') + '/', rel: Array(16).fill('a'.repeat(255)).join('/') },
]

const refused: Case[] = [
  { desc: 'empty', input: '', reason: /empty/ },
  { desc: '".." at the start', input: '../etc/passwd', reason: /"\.\."/ },
  { desc: '".." that would stay inside', input: '00_Media/Farm/../a.mov', reason: /"\.\."/ },
  { desc: '".." alone', input: '..', reason: /"\.\."/ },
  { desc: '".." with backslashes', input: '00_Media\\..\\..\\x', reason: /"\.\."/ },
  { desc: '".." after a prefix', input: '/mnt/lucidlink/tc-east-1/../x', reason: /"\.\."/ },
  { desc: '".." inside a Windows prefix', input: 'C:\\dmpfs\\..\\dmpfs\\tc-east-1\\x', reason: /"\.\."/ },
  { desc: 'NUL', input: 'a\u0000b', reason: /control/ },
  { desc: 'newline', input: 'a\nb', reason: /control/ },
  { desc: 'tab', input: 'a\tb', reason: /control/ },
  { desc: 'DEL', input: 'a\u007fb', reason: /control/ },
  { desc: 'lone surrogate', input: 'a\uD800b', reason: /Unicode/ },
  { desc: 'absolute POSIX outside', input: '/etc/passwd', reason: /outside the mount prefixes/ },
  { desc: 'bare slash', input: '/', reason: /outside the mount prefixes/ },
  { desc: 'bare backslash', input: '\\', reason: /outside the mount prefixes/ },
  { desc: 'sibling that only shares a string prefix', input: '/mnt/lucidlink/tc-east-10/x', reason: /outside the mount prefixes/ },
  { desc: 'POSIX prefix is case-sensitive', input: '/mnt/LucidLink/tc-east-1/x', reason: /outside the mount prefixes/ },
  { desc: 'parent of a prefix', input: '/mnt/lucidlink', reason: /outside the mount prefixes/ },
  { desc: 'other drive', input: 'D:\\dmpfs\\tc-east-1\\x', reason: /outside the mount prefixes/ },
  { desc: 'drive-relative', input: 'C:dmpfs\\tc-east-1\\x', reason: /outside the mount prefixes/ },
  { desc: 'bare drive', input: 'C:', reason: /outside the mount prefixes/ },
  { desc: 'drive root', input: 'C:\\', reason: /outside the mount prefixes/ },
  { desc: 'Windows sibling', input: 'C:\\dmpfs\\tc-east-10\\x', reason: /outside the mount prefixes/ },
  { desc: 'UNC', input: '\\\\server\\share\\x', reason: /outside the mount prefixes/ },
  { desc: 'UNC with forward slashes', input: '//server/share/x', reason: /outside the mount prefixes/ },
  { desc: 'double slash before a POSIX prefix', input: '//mnt/lucidlink/tc-east-1/x', reason: /outside the mount prefixes/ },
  { desc: 'device path \\\\?\\', input: '\\\\?\\C:\\dmpfs\\tc-east-1\\x', reason: /outside the mount prefixes/ },
  { desc: 'device path \\\\.\\', input: '\\\\.\\C:\\dmpfs\\tc-east-1\\x', reason: /outside the mount prefixes/ },
  { desc: 'drive after a relative segment', input: 'a/C:/b', reason: /drive/ },
  { desc: 'drive after a prefix', input: '/mnt/lucidlink/tc-east-1/C:/x', reason: /drive/ },
  { desc: 'drive-like name', input: 'a/c:stream', reason: /drive/ },
  { desc: 'device name CON', input: 'a/CON', reason: /device/ },
  { desc: 'device name lowercase with extension', input: 'a/nul.txt', reason: /device/ },
  { desc: 'device name with space before extension', input: 'Com1 .mov', reason: /device/ },
  { desc: 'device name with stream', input: 'aux:x', reason: /device/ },
  { desc: 'device name LPT9', input: 'lpt9', reason: /device/ },
  { desc: 'device name superscript', input: 'COM¹.txt', reason: /device/ },
  { desc: 'device name after a Windows prefix', input: 'C:\\dmpfs\\tc-east-1\\PRN', reason: /device/ },
  { desc: 'segment over 255 bytes', input: 'a/' + 'x'.repeat(256), reason: /255 bytes/ },
  { desc: 'segment over 255 bytes in UTF-8 only', input: 'é'.repeat(128), reason: /255 bytes/ },
  { desc: 'path over 4096 bytes', input: 'a/'.repeat(2048) + 'a', reason: /4096 bytes/ },
]

describe('toRelative with the seed prefixes', () => {
  for (const c of accepted) {
    it(`accepts ${c.desc}`, () => expect(toRelative(c.input, P)).toEqual({ ok: true, rel: c.rel }))
  }
  for (const c of refused) {
    it(`refuses ${c.desc}`, () => {
      const r = toRelative(c.input, P)
      expect(r.ok).toBe(false)
      if (!r.ok) expect(r.reason).toMatch(c.reason ?? /./)
    })
  }
})

describe('toRelative with other prefixes', () => {
  it('refuses every absolute path when no prefix is configured', () => {
    expect(toRelative('/mnt/lucidlink/tc-east-1/a', [])).toEqual({ ok: false, reason: 'absolute path outside the mount prefixes' })
    expect(toRelative('a/b', [])).toEqual({ ok: true, rel: 'a/b' })
  })

  it('takes a UNC or device path only when a prefix is literally one', () => {
    const prefixes = ['\\\\nas\\share\\tc', '\\\\?\\D:\\cache']
    expect(toRelative('\\\\nas\\share\\tc\\a\\b', prefixes)).toEqual({ ok: true, rel: 'a/b' })
    expect(toRelative('//NAS/Share/tc/a', prefixes)).toEqual({ ok: true, rel: 'a' })
    expect(toRelative('\\\\?\\d:\\cache\\a', prefixes)).toEqual({ ok: true, rel: 'a' })
    expect(toRelative('\\nas\\share\\tc\\a', prefixes).ok).toBe(false)
    expect(toRelative('\\\\\\nas\\share\\tc\\a', prefixes).ok).toBe(false)
    expect(toRelative('\\\\.\\D:\\cache\\a', prefixes).ok).toBe(false)
    expect(toRelative('D:\\cache\\a', prefixes).ok).toBe(false)
  })

  it('ignores a relative prefix instead of matching everything', () => {
    expect(toRelative('/x/a', ['x', ''])).toEqual({ ok: false, reason: 'absolute path outside the mount prefixes' })
  })

  it('uses the first prefix that matches', () => {
    expect(toRelative('/data/a/b/c', ['/data', '/data/a'])).toEqual({ ok: true, rel: 'a/b/c' })
    expect(toRelative('/data/a/b/c', ['/data/a', '/data'])).toEqual({ ok: true, rel: 'b/c' })
  })
})

// Segments chosen to hit every rule: separators, dots, drives, devices,
// control characters, escapes that are not escapes, and the prefixes whole.
const TOKENS = [
  '/', '\\', '//', '\\\\', '.', '..', '...', ':', 'C:', 'c:', 'D:', '\u0000', '\n', '%2e', '%2e%2e', '~', '?', '*',
  'a', 'B', 'é', '日本', '🎬', '\uD800', ' ', 'CON', 'nul.txt', 'tc-east-1', 'tc-east-10', 'dmpfs', 'mnt',
  ...SEED_PREFIXES,
]
const tokens = fc.array(fc.constantFrom(...TOKENS), { maxLength: 14 }).map((t) => t.join(''))
const messyPath = fc.oneof(
  tokens,
  fc.array(fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 6, unit: 'binary' })), { maxLength: 8 }).map((t) => t.join('')),
  // A prefix (as spelled by some client) followed by anything.
  fc
    .tuple(fc.constantFrom(...SEED_PREFIXES, 'c:/DMPFS/tc-east-1', '\\mnt\\lucidlink\\tc-east-1'), fc.constantFrom('/', '\\', ''), tokens)
    .map((t) => t.join('')),
)

function checkRel(rel: string): void {
  const joined = path.posix.join('/root', rel)
  expect(joined === '/root' || joined.startsWith('/root/')).toBe(true)
  expect(rel).not.toContain('\\')
  expect(rel).not.toContain('\u0000')
  expect(rel.startsWith('/')).toBe(false)
  if (rel !== '') {
    for (const seg of rel.split('/')) expect(['', '.', '..']).not.toContain(seg)
  }
}

// Names a client may legitimately use: no separators or control characters,
// not a dot name, a drive or a device, at most 255 bytes.
const validSegment = fc
  .string({ minLength: 1, maxLength: 12, unit: 'grapheme' })
  .filter((s) => toRelative(s, []).ok && !/[\\/]/.test(s) && s !== '.')
const validRel = fc.array(validSegment, { minLength: 1, maxLength: 6 }).map((s) => s.join('/'))

describe('toRelative properties', () => {
  it('never yields a path that leaves the root', () => {
    fc.assert(
      fc.property(messyPath, (input) => {
        const r = toRelative(input, P)
        if (r.ok) checkRel(r.rel)
      }),
      { numRuns: 3000 },
    )
  })

  it('round-trips a valid relative path under every prefix and separator style', () => {
    fc.assert(
      fc.property(validRel, fc.constantFrom(...SEED_PREFIXES), fc.constantFrom('/', '\\'), (rel, prefix, sep) => {
        const spelled = rel.split('/').join(sep)
        expect(toRelative(spelled, P)).toEqual({ ok: true, rel })
        expect(toRelative(prefix + sep + spelled, P)).toEqual({ ok: true, rel })
      }),
      { numRuns: 2000 },
    )
  })
})
