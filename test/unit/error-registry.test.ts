/**
 * The error registry (src/errors.ts) and every throw site in src/: each names
 * a registered code or message, passes the arguments its template needs, and
 * writes no text of its own.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CODE_BY_STATUS, ERRORS, MESSAGES, rateLimited, render, RoomgateError, type ErrorName } from '../../src/errors.js'

const SRC = new URL('../../src/', import.meta.url).pathname

/**
 * Files (or folders, ending in `/`) whose throw sites are not held to the
 * registry yet: converted with the realtime refactor. Empty it then.
 */
function sources(dir: string): Array<{ file: string; text: string }> {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name)
    if (d.isDirectory()) return sources(path)
    return d.name.endsWith('.ts') ? [{ file: path.slice(SRC.length), text: readFileSync(path, 'utf8') }] : []
  })
}

const placeholders = (template: string) => [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!)
interface Entry {
  code: string
  status: number
  message: string
}
/** Every name a throw site may use, with what it builds. */
const entries = (): Array<[ErrorName, Entry]> => [
  ...Object.entries(ERRORS).map(([code, e]): [ErrorName, Entry] => [code as ErrorName, { code, ...e }]),
  ...Object.entries(MESSAGES).map(([name, m]): [ErrorName, Entry] => [name as ErrorName, { ...m, status: ERRORS[m.code].status }]),
]

describe('the error registry', () => {
  it('gives every code a client or server status, and every message a registered code', () => {
    for (const [code, e] of Object.entries(ERRORS)) {
      expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/)
      expect(e.status, code).toBeGreaterThanOrEqual(400)
      expect(e.status, code).toBeLessThan(600)
      expect(placeholders(e.message), `${code}: a code's default message takes no arguments`).toEqual([])
    }
    for (const [name, m] of Object.entries(MESSAGES)) {
      expect(name).toMatch(/^[a-z]+(_[a-z]+)*$/)
      expect(Object.hasOwn(ERRORS, m.code), `${name} → ${m.code}`).toBe(true)
      expect(Object.hasOwn(ERRORS, name), `${name} is both a code and a message`).toBe(false)
    }
  })

  it('answers the generic code of a status with that status (422 is a 400 bad_request)', () => {
    for (const [status, code] of Object.entries(CODE_BY_STATUS)) {
      expect(ERRORS[code].status, `${status} → ${code}`).toBe(status === '422' ? 400 : Number(status))
    }
  })

  it('has well-formed templates: `{name}` placeholders only, each named once', () => {
    for (const [name, e] of entries()) {
      expect(e.message.trim(), name).toBe(e.message)
      expect(e.message.replace(/\{[a-z][A-Za-z]*\}/g, ''), `${name}: stray braces or a malformed placeholder`).not.toMatch(/[{}]/)
      const names = placeholders(e.message)
      expect(new Set(names).size, `${name}: a placeholder named twice`).toBe(names.length)
    }
  })

  it('builds every entry with its code and status, every placeholder filled', () => {
    for (const [name, e] of entries()) {
      const params = Object.fromEntries(placeholders(e.message).map((p) => [p, `<${p}>`]))
      const err = new (RoomgateError as new (name: ErrorName, params?: Record<string, string>) => RoomgateError)(name, params)
      expect([err.code, err.status], name).toEqual([e.code, e.status])
      expect(err.message, name).toBe(e.message.replace(/\{(\w+)\}/g, '<$1>'))
      expect(err).toBeInstanceOf(RoomgateError)
      expect(err).toBeInstanceOf(Error)
    }
  })

  it('writes each text once', () => {
    const texts = entries().map(([, e]) => e.message)
    expect(texts.filter((t, i) => texts.indexOf(t) !== i)).toEqual([])
  })

  it('renders a message with its arguments, under its code and status', () => {
    const err = new RoomgateError('job_already', { status: 'completed' })
    expect([err.code, err.status, err.message]).toEqual(['conflict', 409, 'Job is already completed'])
    const locked = rateLimited(1_500, 'credentials_locked', { seconds: 2 })
    expect([locked.code, locked.status, locked.message, locked.headers]).toEqual([
      'rate_limited',
      429,
      'Too many wrong credentials from this address; retry in 2 s',
      { 'retry-after': '2' },
    ])
    expect(render('{a} and {b}', { a: 1 })).toBe('1 and {b}')
  })

  it('checks names and params at compile time', () => {
    // Each line below must fail to compile: typecheck fails if one compiles.
    // @ts-expect-error a code that is not registered
    expect(() => new RoomgateError('not_fuond')).toThrow(TypeError)
    // @ts-expect-error a template's param missing
    expect(new RoomgateError('job_already').message).toBe('Job is already {status}')
    // @ts-expect-error a param the template does not name
    expect(new RoomgateError('job_already', { state: 'done' }).message).toBe('Job is already {status}')
    // @ts-expect-error text of its own at a throw site
    expect(new RoomgateError('not_found', 'my own words').message).toBe('Not found')
    // @ts-expect-error a rate-limit message without its param
    expect(rateLimited(1_000, 'credentials_locked').code).toBe('rate_limited')
  })

  it('is the only source of error texts: every throw site names a registered entry and passes its arguments', () => {
    const all = sources(SRC).filter((f) => f.file !== 'errors.ts')
    expect(all.reduce((n, f) => n + sites(f.text).length, 0)).toBeGreaterThan(60)
    expect(all.flatMap((f) => problems(f.file, f.text))).toEqual([])
  })

  it('catches an unregistered name, a missing argument and a text of its own', () => {
    const bad = [
      "throw new RoomgateError('no_such_code')",
      "throw new RoomgateError(busy ? 'server_busy' : 'no_such_code')",
      "throw new RoomgateError('job_already')",
      "throw new RoomgateError('bad_request', 'my own words')",
      "throw RoomgateError.withText('bad_request', `my own ${words}`)",
      "throw RoomgateError.withText('bad_request', first ? describe(first) : 'data: not valid', { status: 400 })",
      "throw RoomgateError.fromService('x', 'made up', 502)",
      "done(rateLimited(ms, 'no_such_limit'))",
      "done(rateLimited(ms, 'credentials_locked', { secs: 1 }))",
    ].join('\n')
    expect(problems('x.ts', bad).map((p) => p.slice(p.lastIndexOf(': ') + 2))).toEqual([
      "'no_such_code' is not registered",
      "'no_such_code' is not registered",
      "'job_already' needs {status}",
      'text at the throw site',
      'literal text',
      'literal text',
      'literal text',
      "'no_such_limit' is not registered",
      "'credentials_locked' needs {seconds}",
    ])
    const good = [
      "throw new RoomgateError('job_already', { status: job.status })",
      "throw new RoomgateError(c.busy ?? 'server_busy', undefined, { headers: { 'retry-after': '5' } })",
      "return RoomgateError.withText(codeForStatus(status), e.message, { status })",
      "done(rateLimited(verdict.retryAfterMs, o.refusal))",
    ].join('\n')
    expect(problems('x.ts', good)).toEqual([])
  })
})

const CALLS = /new RoomgateError\(|RoomgateError\.withText\(|RoomgateError\.fromService\(|\brateLimited\(/g

/** A call's arguments as source text, split at its top-level commas (quotes, brackets and template literals respected). */
function argsAt(text: string, open: number): string[] {
  const args: string[] = []
  const closers: string[] = []
  let start = open + 1
  for (let i = open; i < text.length; i++) {
    const ch = text[i]!
    if (ch === "'" || ch === '"' || ch === '`') {
      // Skip the literal (a template's `${…}` may hold quotes of its own: skipped with it).
      let depth = 0
      for (i++; i < text.length; i++) {
        if (text[i] === '\\') i++
        else if (ch === '`' && text.startsWith('${', i)) depth++
        else if (ch === '`' && depth > 0 && text[i] === '}') depth--
        else if (text[i] === ch && depth === 0) break
      }
    } else if (ch === '(' || ch === '[' || ch === '{') {
      closers.push(ch === '(' ? ')' : ch === '[' ? ']' : '}')
    } else if (ch === closers.at(-1)) {
      closers.pop()
      if (closers.length === 0) {
        args.push(text.slice(start, i).trim())
        return args.filter((a) => a !== '')
      }
    } else if (ch === ',' && closers.length === 1) {
      args.push(text.slice(start, i).trim())
      start = i + 1
    }
  }
  return args
}

function sites(text: string): Array<{ call: string; args: string[] }> {
  return [...text.matchAll(CALLS)].map((m) => ({ call: m[0], args: argsAt(text, m.index + m[0].length - 1) }))
}

const hasLiteral = (arg: string | undefined) => arg !== undefined && /['"`]/.test(arg)

function problems(file: string, text: string): string[] {
  const out: string[] = []
  for (const { call, args } of sites(text)) {
    const where = `${file}: ${call}${args.join(', ').slice(0, 60)}`
    if (call.startsWith('RoomgateError.')) {
      // A text written elsewhere (a validator's, an error's, a service's): never a literal of ours.
      if (hasLiteral(args[1])) out.push(`${where}: literal text`)
      continue
    }
    const [nameArg, paramsArg = ''] = call === 'rateLimited(' ? args.slice(1) : args
    for (const [, name] of (nameArg ?? '').matchAll(/'([^']*)'/g)) {
      const entry = (MESSAGES as Record<string, { message: string }>)[name!] ?? (ERRORS as Record<string, { message: string }>)[name!]
      if (!entry) {
        out.push(`${where}: '${name}' is not registered`)
        continue
      }
      for (const p of placeholders(entry.message)) {
        if (!new RegExp(`[{,]\\s*${p}\\b`).test(paramsArg)) out.push(`${where}: '${name}' needs {${p}}`)
      }
    }
    if (/^['"`]/.test(paramsArg)) out.push(`${where}: text at the throw site`)
  }
  return out
}
