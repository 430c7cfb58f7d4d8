/**
 * The credentials roomgate presents to a client's status API. The config only
 * names where a secret lives; the value is read when a request is built:
 * from the environment, or from a file (Docker/Kubernetes secrets), which is
 * read again once a cached copy is a minute old, so a rotated file is picked
 * up without a restart. One trailing newline (what `echo` and most editors
 * add) is dropped. No secret reaches an error message: errors name the
 * variable or the file, never the value.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs'
import type { StatusAuthConfig, StatusSourceConfig } from '../config/status-schema.js'

/** A file read is reused this long at most. */
export const SECRET_FILE_CACHE_MS = 60_000
/** Larger than any token; guards against a path like /dev/zero or a log file. */
export const MAX_SECRET_FILE_BYTES = 64 * 1024

export const REDACTED = '[redacted]'

/** A secret that cannot be had; the message names where it was looked for, never a value. */
export class StatusCredentialError extends Error {
  override name = 'StatusCredentialError'
}

const fileCache = new Map<string, { value: string; readAt: number }>()

/** Drops cached file reads (tests, and a reload that must see new files at once). */
export function forgetSecretFiles(): void {
  fileCache.clear()
}

/** `text` without one trailing newline (`\n` or `\r\n`), as `echo` and most editors add. */
export function stripNewline(text: string): string {
  return text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text
}

/** Why a value cannot be used as a secret, or undefined. */
export function secretValueProblem(value: string): string | undefined {
  if (value === '') return 'is empty'
  // CR, LF or NUL would let a header be split or be refused by undici (whose error could quote it).
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) return 'holds control characters a header cannot carry'
  return undefined
}

/**
 * The secret in `path`, without one trailing newline. Throws a
 * `StatusCredentialError` naming the path and the reason.
 */
export function readSecretFile(path: string, { cached = true }: { cached?: boolean } = {}): string {
  const hit = fileCache.get(path)
  const now = Date.now()
  if (cached && hit && now - hit.readAt < SECRET_FILE_CACHE_MS && now >= hit.readAt) return hit.value
  let value: string
  try {
    // stat first: opening a FIFO would block; a device would never end.
    if (!statSync(path).isFile()) throw new StatusCredentialError(`${path} is not a regular file`)
    const fd = openSync(path, 'r')
    try {
      const size = fstatSync(fd).size
      if (size > MAX_SECRET_FILE_BYTES) throw new StatusCredentialError(`${path} is larger than ${MAX_SECRET_FILE_BYTES} bytes`)
      const buf = Buffer.alloc(size)
      let read = 0
      while (read < size) {
        const n = readSync(fd, buf, read, size - read, read)
        if (n === 0) break
        read += n
      }
      value = stripNewline(buf.subarray(0, read).toString('utf8'))
    } finally {
      closeSync(fd)
    }
  } catch (err) {
    fileCache.delete(path)
    if (err instanceof StatusCredentialError) throw err
    throw new StatusCredentialError(`${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  fileCache.set(path, { value, readAt: now })
  return value
}

function secretOf(auth: StatusAuthConfig, env: NodeJS.ProcessEnv, slug: string): string {
  const at = `status source ${slug}`
  let name: string | undefined
  let file: string | undefined
  if ('tokenEnv' in auth) name = auth.tokenEnv
  else if ('keyEnv' in auth) name = auth.keyEnv
  else if ('passwordEnv' in auth) name = auth.passwordEnv
  else if ('tokenFile' in auth) file = auth.tokenFile
  else if ('keyFile' in auth) file = auth.keyFile
  else file = auth.passwordFile
  let value: string
  if (name !== undefined) {
    const raw = env[name]
    if (raw === undefined) throw new StatusCredentialError(`${at}: ${name} is not set`)
    value = stripNewline(raw)
  } else {
    value = readSecretFile(file!)
  }
  const problem = secretValueProblem(value)
  if (problem) throw new StatusCredentialError(`${at}: ${name ?? file} ${problem}`)
  return value
}

function basicCredentials(username: string, password: string): string {
  return Buffer.from(`${username}:${password}`, 'utf8').toString('base64')
}

/**
 * The headers that authenticate to `source` (none without `auth`). Throws a
 * `StatusCredentialError` when the secret cannot be had.
 */
export function authHeaders(source: StatusSourceConfig, env: NodeJS.ProcessEnv): Record<string, string> {
  const { auth } = source
  if (!auth) return {}
  const secret = secretOf(auth, env, source.slug)
  switch (auth.type) {
    case 'bearer':
      return { Authorization: `Bearer ${secret}` }
    case 'api_key':
      // The schema fills the default header; a hand-built source may lack it.
      return { [auth.header ?? 'X-API-Key']: secret }
    case 'basic':
      return { Authorization: `Basic ${basicCredentials(auth.username, secret)}` }
  }
}

/**
 * Every form of `source`'s secret that could show up somewhere: the value
 * and, for basic auth, the encoded `user:password`. Empty when there is none
 * or it cannot be had.
 */
export function secretsOf(source: StatusSourceConfig, env: NodeJS.ProcessEnv): string[] {
  const { auth } = source
  if (!auth) return []
  let secret: string
  try {
    secret = secretOf(auth, env, source.slug)
  } catch {
    return []
  }
  return auth.type === 'basic' ? [secret, basicCredentials(auth.username, secret)] : [secret]
}

/** `text` with every secret (and its URL-encoded form) replaced by `[redacted]`. */
export function redact(text: string, secrets: readonly string[]): string {
  const forms = new Set<string>()
  for (const s of secrets) {
    if (!s) continue
    forms.add(s)
    forms.add(encodeURIComponent(s))
  }
  // Longest first, so a secret that contains another is replaced whole.
  let out = text
  for (const s of [...forms].sort((a, b) => b.length - a.length)) out = out.split(s).join(REDACTED)
  return out
}
