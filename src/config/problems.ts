/**
 * Schema errors as messages a person can act on: the dotted key, the value
 * that was given (never a secret), the valid key nearest to a mistyped one,
 * and the environment variable a value came from:
 * `unknown key "prot" (did you mean "port"?)`, `port must be an integer, got "abc"`,
 * `LOG_LEVEL: logLevel must be one of "fatal", …, got "verbose"`.
 */
import { didYouMean } from './suggest.js'

export interface SchemaError {
  keyword: string
  instancePath: string
  schemaPath: string
  message: string
  params: Record<string, unknown>
}

/** `/events/routes/2/service` → `events.routes[2].service` */
export function dottedKey(instancePath: string): string {
  return pointer(instancePath).reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '')
}

function pointer(path: string): string[] {
  return path
    .replace(/^#/, '')
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
}

function at(root: unknown, path: string[]): unknown {
  let node = root
  for (const part of path) {
    if (typeof node !== 'object' || node === null) return undefined
    node = (node as Record<string, unknown>)[part]
  }
  return node
}

const TYPES: Record<string, string> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
}

/** Keys whose values are credentials: their values are described, never shown. */
const SECRET = /(token|secret|password|key)s?$/i
const MAX_SHOWN = 48

/** The value as the message shows it: strings quoted and cut, credentials in URLs hidden, containers by kind. */
function shown(value: unknown, key: string): string {
  const name = key.replace(/\[\d+\]$/, '').split('.').pop() ?? ''
  if (Array.isArray(value)) return 'a list'
  if (value === null) return 'null'
  if (typeof value === 'object') return 'a mapping'
  if (SECRET.test(name)) return typeof value === 'string' ? 'a string' : `a ${typeof value}`
  if (typeof value !== 'string') return String(value)
  const safe = value.replace(/\/\/[^/@\s]*@/, '//…@')
  return JSON.stringify(safe.length > MAX_SHOWN ? `${safe.slice(0, MAX_SHOWN)}…` : safe)
}

/**
 * Messages for the schema errors of `instance` (checked against `schema`);
 * `prefix` is where `instance` sits in the whole config (`/health/checks/0`).
 */
export function describeErrors(errors: readonly SchemaError[], schema: unknown, instance: unknown, prefix = ''): string[] {
  // A mistyped key also leaves its real key missing: the suggestion says both, the missing one is not reported again.
  const suggested = new Map<string, Set<string>>()
  const messages: string[] = []
  for (const err of errors.filter((e) => e.keyword === 'additionalProperties')) {
    const key = dottedKey(prefix + err.instancePath)
    const known = Object.keys((at(schema, pointer(err.schemaPath)) as { properties?: object } | undefined)?.properties ?? {})
    for (const extra of err.params.additionalProperties as string[]) {
      const full = key ? `${key}.${extra}` : extra
      const hint = didYouMean(extra, known, (s) => JSON.stringify(key ? `${key}.${s}` : s))
      messages.push(`unknown key ${JSON.stringify(full)}${hint}`)
      const match = known.find((k) => hint.includes(JSON.stringify(key ? `${key}.${k}` : k)))
      if (match) suggested.set(err.instancePath, (suggested.get(err.instancePath) ?? new Set()).add(match))
    }
  }
  for (const err of errors) {
    const key = dottedKey(prefix + err.instancePath)
    const got = `, got ${shown(at(instance, pointer(err.instancePath)), key)}`
    switch (err.keyword) {
      case 'boolean': // the matching additionalProperties error says it better
      case 'additionalProperties':
        break
      case 'required': {
        const missing = (err.params.requiredProperties as string[]).filter((p) => !suggested.get(err.instancePath)?.has(p))
        if (missing.length > 0) messages.push(`${key} must have required properties ${missing.join(', ')}`)
        break
      }
      case 'type': {
        const type = typeof err.params.type === 'string' ? TYPES[err.params.type] : undefined
        messages.push(`${key} ${type ? `must be ${type}` : err.message}${got}`)
        break
      }
      case 'enum':
        messages.push(`${key} must be one of ${(err.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}${got}`)
        break
      default:
        messages.push(`${key} ${err.message}${got}`)
    }
  }
  return messages
}

/**
 * Prefixes a message about a key set by an environment variable with the
 * variable's name (`LOG_LEVEL: logLevel must be …`): that is where to fix it.
 * `envFor` maps dotted keys to the variables that set them.
 */
export function withEnvName(message: string, envFor: ReadonlyMap<string, string>): string {
  const subject = message.split(' ', 1)[0]!
  for (const [key, name] of envFor) {
    if (subject === key || subject.startsWith(`${key}.`) || subject.startsWith(`${key}[`)) return `${name}: ${message}`
  }
  return message
}
