/**
 * Command-line options: one table for every command (parsed once, so options
 * may come before or after the command), which commands accept which, and the
 * connection settings (--url/ROOMGATE_URL, --key/ROOMGATE_API_KEY,
 * --token/ROOMGATE_TOKEN, --timeout). The CLI is the top layer: this is the
 * one place that reads its environment variables.
 */
import { parseArgs } from 'node:util'
import { didYouMean } from '../config/suggest.js'
import { usageError } from './exit.js'

export const DEFAULT_URL = 'http://127.0.0.1:8080'
/** Seconds a request may take (connect, answer and body) before the server counts as unreachable. */
export const DEFAULT_TIMEOUT_SECONDS = 10

export const OPTIONS = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  url: { type: 'string' },
  key: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  dir: { type: 'boolean' },
  watch: { type: 'boolean' },
  status: { type: 'string' },
  limit: { type: 'string' },
  follow: { type: 'boolean' },
} as const

export type OptionName = keyof typeof OPTIONS

export interface Values {
  config?: string
  help?: boolean
  version?: boolean
  url?: string
  key?: string
  token?: string
  json?: boolean
  timeout?: string
  dir?: boolean
  watch?: boolean
  status?: string
  limit?: string
  follow?: boolean
}

/**
 * Parses the command line, or fails with one line for people (exit 2):
 * `unknown option --conf (did you mean --config?)`, `--config needs a value`.
 * Node's own parser messages are written for developers (and quote badly).
 */
export function parseCommandLine(argv: string[]): { values: Values; positionals: string[] } {
  // A lenient pass finds what the strict one would refuse, so each problem gets its own message.
  const { tokens } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS, strict: false, tokens: true })
  for (const token of tokens) {
    if (token.kind !== 'option') continue
    const option = (OPTIONS as Record<string, { type: 'string' | 'boolean' }>)[token.name]
    if (option === undefined) {
      const long = token.rawName.startsWith('--')
      throw usageError(`unknown option ${token.rawName}${long ? didYouMean(token.name, Object.keys(OPTIONS), (s) => `--${s}`) : ''}`)
    }
    if (option.type === 'string' && token.value === undefined) throw usageError(`${token.rawName} needs a value`)
    if (option.type === 'string' && !token.inlineValue && token.value?.startsWith('-')) {
      throw usageError(`${token.rawName} needs a value, got the option ${token.value} (write ${token.rawName}=${token.value} if that is the value)`)
    }
    if (option.type === 'boolean' && token.inlineValue) throw usageError(`${token.rawName} does not take a value`)
  }
  try {
    const parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS })
    return { values: parsed.values as Values, positionals: parsed.positionals }
  } catch (err) {
    // Anything the lenient pass let through: Node's first sentence, without its advice.
    throw usageError((err as Error).message.split(/\.\s/, 1)[0]!)
  }
}

/** Fails with exit 2 when an option was given that `command` does not take. */
export function onlyOptions(values: Values, command: string, allowed: readonly OptionName[]): void {
  const ok = new Set<string>(['help', 'version', ...allowed])
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && !ok.has(name)) throw usageError(`${command} does not take --${name}`)
  }
}

export interface Connection {
  /** Base URL without a trailing slash (a path prefix is kept). */
  url: string
  key: string | undefined
  token: string | undefined
  timeoutMs: number
}

const set = (v: string | undefined) => (v === undefined || v === '' ? undefined : v)

export function connection(values: Values, env: NodeJS.ProcessEnv = process.env): Connection {
  const raw = set(values.url) ?? set(env.ROOMGATE_URL) ?? DEFAULT_URL
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    throw usageError(`--url must be an http(s) URL, got ${JSON.stringify(raw)}`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw usageError(`--url must be an http(s) URL, got ${JSON.stringify(raw)}`)
  // Credentials in a URL end up in shell history and error messages: they have their own options.
  if (parsed.username || parsed.password) throw usageError('--url must not hold credentials: use --key or --token')
  if (parsed.search || parsed.hash) throw usageError('--url must not have a query or fragment')
  let timeoutSeconds = DEFAULT_TIMEOUT_SECONDS
  if (values.timeout !== undefined) {
    timeoutSeconds = Number(values.timeout)
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw usageError(`--timeout must be a number of seconds > 0, got ${JSON.stringify(values.timeout)}`)
  }
  return {
    url: `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`,
    key: set(values.key) ?? set(env.ROOMGATE_API_KEY),
    token: set(values.token) ?? set(env.ROOMGATE_TOKEN),
    timeoutMs: Math.round(timeoutSeconds * 1000),
  }
}

export function positiveInt(name: string, raw: string | undefined, max: number): number | undefined {
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1 || n > max) throw usageError(`--${name} must be a whole number from 1 to ${max}, got ${JSON.stringify(raw)}`)
  return n
}
