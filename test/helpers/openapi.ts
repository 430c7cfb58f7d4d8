/**
 * Checks values against roomgate's own OpenAPI document: request bodies,
 * responses by status, query parameters and components, with Ajv (JSON
 * Schema 2020-12, as OpenAPI 3.1 uses), and reads examples out of the seed
 * documents (fenced blocks, with their `//` comments and `...` elisions).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'

type Json = Record<string, unknown>
export interface OpenApiDoc {
  openapi: string
  paths: Record<string, Record<string, Json>>
  components: { schemas: Record<string, Json> }
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void

export class DocValidator {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true })
  private n = 0

  constructor(readonly doc: OpenApiDoc) {
    addFormats(this.ajv)
  }

  operation(method: string, path: string): Json {
    const op = this.doc.paths[path]?.[method.toLowerCase()]
    if (!op) throw new Error(`${method} ${path} is not in the document`)
    return op
  }

  /** Errors of `value` against a schema of the document ([] when it validates). */
  check(schema: Json | undefined, value: unknown, what: string): string[] {
    if (!schema) return [`${what}: no schema in the document`]
    // '#/components/...' refs resolve against the root of the schema compiled.
    const validate = this.ajv.compile({ $id: `rg-${++this.n}`, ...schema, components: this.doc.components })
    if (validate(value)) return []
    return (validate.errors ?? []).map((e) => `${what}: ${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`)
  }

  body(method: string, path: string, value: unknown): string[] {
    const op = this.operation(method, path) as { requestBody?: { content?: Record<string, { schema?: Json }> } }
    return this.check(op.requestBody?.content?.['application/json']?.schema, value, `${method} ${path} body`)
  }

  response(method: string, path: string, status: number, value: unknown, type = 'application/json'): string[] {
    const op = this.operation(method, path) as { responses: Record<string, { content?: Record<string, { schema?: Json }> }> }
    const answer = op.responses[String(status)] ?? op.responses.default
    if (!answer) return [`${method} ${path}: status ${status} is not documented`]
    return this.check(answer.content?.[type]?.schema, value, `${method} ${path} ${status}`)
  }

  query(method: string, path: string, query: Record<string, string>): string[] {
    const op = this.operation(method, path) as { parameters?: Array<{ in: string; name: string; required?: boolean; schema: Json }> }
    const params = (op.parameters ?? []).filter((p) => p.in === 'query')
    const out: string[] = []
    for (const p of params) if (p.required && !(p.name in query)) out.push(`${method} ${path}: ?${p.name} is required`)
    for (const [name, value] of Object.entries(query)) {
      const p = params.find((q) => q.name === name)
      if (!p) out.push(`${method} ${path}: ?${name} is not documented`)
      else out.push(...this.check(p.schema, value, `${method} ${path} ?${name}`))
    }
    return out
  }

  component(name: string, value: unknown): string[] {
    return this.check({ $ref: `#/components/schemas/${name}` }, value, name)
  }
}

/**
 * The seed documents, copied into the repository (a clean clone has no
 * ../shared); `seedDrift()` tells when the copies differ from ../shared/seeds.
 */
const SEEDS = new URL('../fixtures/seeds/', import.meta.url)
const SHARED = new URL('../../../shared/seeds/', import.meta.url)

/** The text of a seed document, by its number ("002"). */
export function seed(number: string): string {
  const file = readdirSync(SEEDS).find((f) => f.startsWith(`${number}_`))
  if (!file) throw new Error(`seed ${number} not found in ${SEEDS.pathname}`)
  return readFileSync(new URL(file, SEEDS), 'utf8')
}

/** Seed files whose copy differs from ../shared/seeds (none when that folder is absent). */
export function seedDrift(): string[] {
  if (!existsSync(SHARED)) return []
  return readdirSync(SHARED)
    .filter((f) => f.endsWith('.txt'))
    .filter((f) => !existsSync(new URL(f, SEEDS)) || readFileSync(new URL(f, SEEDS), 'utf8') !== readFileSync(new URL(f, SHARED), 'utf8'))
}

/**
 * The JSON of the first fenced block after `marker` in `text` (after
 * `occurrence` earlier blocks), with `// comments` and `, ...` elisions removed.
 */
export function exampleAfter(text: string, marker: string, occurrence = 0): unknown {
  let at = text.indexOf(marker)
  if (at < 0) throw new Error(`marker ${JSON.stringify(marker)} not found`)
  let block = ''
  for (let i = 0; i <= occurrence; i++) {
    const open = text.indexOf('```', at)
    const start = text.indexOf('\n', open) + 1
    const end = text.indexOf('```', start)
    block = text.slice(start, end)
    at = end + 3
  }
  // A curl command: its -d '...' body.
  const data = /-d '([^']*)'/.exec(block)
  if (data) return looseJson(data[1]!)
  // An http block: the JSON starts at the first line that opens an object or a list.
  return looseJson(block.slice(Math.max(0, block.search(/^[{[]/m))))
}

/** A line without its `// comment` (one outside any string). */
function withoutComment(line: string): string {
  let inString = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (c === '\\') i++
    else if (c === '"') inString = !inString
    else if (!inString && c === '/' && line[i + 1] === '/') return line.slice(0, i)
  }
  return line
}

/** JSON as seeds write it: `// comments` and `...` elisions allowed. */
export function looseJson(block: string): unknown {
  const clean = block
    .split('\n')
    .map(withoutComment)
    .join('\n')
    .replace(/,\s*\.\.\.\s*(?=[\]}])/g, '')
  try {
    return JSON.parse(clean)
  } catch (err) {
    throw new Error(`${(err as Error).message} in:\n${clean}`)
  }
}
