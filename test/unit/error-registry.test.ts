/**
 * The error registry (src/errors.ts) and every throw site in src/: each names
 * a registered code or message, passes the arguments its template needs, and
 * writes no text of its own.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ERRORS, MESSAGES, render, RoomgateError } from '../../src/errors.js'

const SRC = new URL('../../src/', import.meta.url).pathname

function sources(dir: string): Array<{ file: string; text: string }> {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name)
    if (d.isDirectory()) return sources(path)
    return d.name.endsWith('.ts') ? [{ file: path.slice(SRC.length), text: readFileSync(path, 'utf8') }] : []
  })
}

const placeholders = (template: string) => [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!)

/** The text of a call's arguments, from after `(` to its closing `)`. */
function argsAt(text: string, open: number): string {
  let depth = 0
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++
    else if (text[i] === ')' && --depth === 0) return text.slice(open + 1, i)
  }
  return text.slice(open + 1)
}

describe('the error registry', () => {
  it('gives every code a client or server status and every message a registered code', () => {
    for (const [code, e] of Object.entries(ERRORS)) {
      expect(e.status, code).toBeGreaterThanOrEqual(400)
      expect(e.status, code).toBeLessThan(600)
      expect(code).toMatch(/^[a-z_]+$/)
      expect(placeholders(e.message), `${code}: a code's default message takes no arguments`).toEqual([])
    }
    for (const [name, m] of Object.entries(MESSAGES)) {
      expect(Object.hasOwn(ERRORS, m.code), `${name} → ${m.code}`).toBe(true)
      expect(Object.hasOwn(ERRORS, name), `${name} is both a code and a message`).toBe(false)
      expect(m.message.replace(/\{\w+\}/g, ''), `${name}: stray braces`).not.toMatch(/[{}]/)
    }
  })

  it('writes each text once', () => {
    const texts = [...Object.values(ERRORS), ...Object.values(MESSAGES)].map((e) => e.message)
    expect(texts.filter((t, i) => texts.indexOf(t) !== i)).toEqual([])
  })

  it('renders a message with its arguments, under its code and status', () => {
    const err = new RoomgateError('job_already', { status: 'completed' })
    expect([err.code, err.status, err.message]).toEqual(['conflict', 409, 'Job is already completed'])
    expect(render('{a} and {b}', { a: 1 })).toBe('1 and {b}')
  })

  it('is the only source of error texts: every throw site names a registered entry and passes its arguments', () => {
    const all = sources(SRC).filter((f) => f.file !== 'errors.ts')
    expect(all.reduce((n, f) => n + sites(f.text).length, 0)).toBeGreaterThan(60)
    expect(all.flatMap((f) => problems(f.file, f.text))).toEqual([])
  })

  it('catches an unregistered name, a missing argument and a text of its own', () => {
    const bad = [
      "throw new RoomgateError('no_such_code')",
      "throw new RoomgateError('job_already')",
      "throw new RoomgateError('bad_request', 'my own words')",
      "throw RoomgateError.withText('bad_request', `my own ${words}`)",
      "throw RoomgateError.withText('bad_request', ok ? text : 'my own words')",
    ].join('\n')
    expect(problems('x.ts', bad).map((p) => p.slice(p.lastIndexOf(': ') + 2))).toEqual([
      "'no_such_code' is not registered",
      "'job_already' needs {status}",
      'text at the throw site',
      'literal text',
      'literal text',
    ])
  })
})

function sites(text: string): Array<{ call: string; args: string }> {
  return [...text.matchAll(/new RoomgateError\(|RoomgateError\.withText\(|\brateLimited\(/g)].map((m) => ({
    call: m[0],
    args: argsAt(text, m.index + m[0].length - 1).trim(),
  }))
}

function problems(file: string, text: string): string[] {
  const out: string[] = []
  for (const { call, args } of sites(text)) {
    const where = `${file}: ${call}${args.slice(0, 60)}`
    if (call.startsWith('RoomgateError.withText')) {
      // A text written elsewhere (a validator's, an error's): no literal in it.
      if (/['"`]/.test(args.split(',').slice(1).join(',').replace(/\{[^}]*\}\s*$/, ''))) out.push(`${where}: literal text`)
      continue
    }
    const rate = call === 'rateLimited('
    const names = rate
      ? [...args.matchAll(/'([a-z_]+)'/g)].map((x) => x[1]!)
      : [...args.matchAll(/^(?:[^,(]*\?)?\s*'([a-z_]+)'(?:\s*:\s*'([a-z_]+)')?/g)].flatMap((x) => [x[1], x[2]]).filter((x): x is string => !!x)
    for (const name of names) {
      const entry = (MESSAGES as Record<string, { message: string }>)[name] ?? (ERRORS as Record<string, { message: string }>)[name]
      if (!entry) {
        out.push(`${where}: '${name}' is not registered`)
        continue
      }
      for (const p of placeholders(entry.message)) {
        if (!new RegExp(`[{,]\\s*${p}\\b`).test(args)) out.push(`${where}: '${name}' needs {${p}}`)
      }
    }
    if (!rate && /^[^,]*,\s*['"`]/.test(args)) out.push(`${where}: text at the throw site`)
  }
  return out
}
