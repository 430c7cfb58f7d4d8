/**
 * Loads the configuration once at start: the optional YAML/JSON file, then the
 * environment on top, then the defaults; validates the whole tree and freezes
 * it. Any problem is a `ConfigError` whose message names the dotted key.
 */
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import Value from 'typebox/value'
import { dirname, isAbsolute, resolve } from 'node:path'
import { ConfigSchema, SEED_SERVICES, ServiceSchema, type Config } from './schema.js'
import { DEFAULT_JANUS_SERVERS, DEFAULT_SERVER_POOL, PoolSchema } from './rooms-schema.js'
import { EnvError, readEnv, SERVER_POOL_PLACEHOLDER } from './env.js'
import { HttpCheckSchema, S3CheckSchema } from './health-schema.js'
import { checkStatusConfig, STATUS_AUTH_PATH } from './status-schema.js'
import { checkConfig } from './checks.js'
import { checkDevicesConfig } from './device-keys.js'
import { describeErrors, withEnvName, type SchemaError } from './problems.js'

export { dottedKey } from './problems.js'

export class ConfigError extends Error {
  override name = 'ConfigError'
}

export interface LoadOptions {
  /** Path of a YAML or JSON file. */
  file?: string
  /** Defaults to `process.env`; tests pass their own. */
  env?: NodeJS.ProcessEnv
  /** Settings merged over the file and under the environment (used by tests and embedders). */
  settings?: Record<string, unknown>
}

type Tree = Record<string, unknown>

const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v)

function readConfigFile(file: string): Tree {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`)
  }
  let parsed: unknown
  try {
    // YAML 1.2 is a superset of JSON, so one parser reads both.
    parsed = parseYaml(text)
  } catch (err) {
    // The parser quotes the lines around the error, which may hold secrets: its first line only.
    const where = (err as Error).message.split('\n', 1)[0]!.replace(/:$/, '')
    throw new ConfigError(`config file ${file} is not valid YAML/JSON: ${where}`)
  }
  if (parsed == null) return {}
  if (!isTree(parsed)) throw new ConfigError(`config file ${file} must hold a mapping of settings at the top level`)
  return parsed
}

function mergeInto(target: Tree, source: Tree): Tree {
  for (const [k, v] of Object.entries(source)) {
    const cur = target[k]
    target[k] = isTree(cur) && isTree(v) ? mergeInto({ ...cur }, v) : v
  }
  return target
}

function getDotted(tree: Tree, key: string): unknown {
  return key.split('.').reduce<unknown>((node, part) => (isTree(node) ? node[part] : undefined), tree)
}

/** Sets `a.b.c`; with `append`, adds the value to the list there instead (a non-list there is replaced). */
function setDotted(tree: Tree, key: string, value: unknown, append = false): void {
  const parts = key.split('.')
  let node = tree
  for (const part of parts.slice(0, -1)) {
    const next = node[part]
    if (!isTree(next)) node[part] = {}
    node = node[part] as Tree
  }
  const last = parts[parts.length - 1]!
  const current = node[last]
  node[last] = append ? [...(Array.isArray(current) ? current : []), value] : value
}

const CHECK_ITEM = /^\/health\/checks\/\d+/

/**
 * A health check is one of two shapes, told apart by `kind`; the schema's
 * union would report the mismatches with both. Each item is checked against
 * the shape its kind names instead.
 */
function checkItemProblems(tree: Tree): string[] {
  const checks = isTree(tree.health) ? tree.health.checks : undefined
  if (!Array.isArray(checks)) return []
  return checks.flatMap((item: unknown, i) => {
    const kind = isTree(item) ? item.kind : undefined
    const schema = kind === 'http' ? HttpCheckSchema : kind === 's3' ? S3CheckSchema : undefined
    if (!schema) return [`health.checks[${i}].kind must be "http" or "s3"`]
    return describeErrors([...Value.Errors(schema, item)] as unknown as SchemaError[], schema, item, `/health/checks/${i}`)
  })
}

/** Builds the frozen config from an already-parsed tree plus the environment. */
export function buildConfig(input: Tree, env: NodeJS.ProcessEnv = {}): Readonly<Config> {
  const tree = structuredClone(input)
  const envFor = new Map<string, string>()
  let overrides
  try {
    overrides = readEnv(env)
  } catch (err) {
    if (err instanceof EnvError) throw new ConfigError(err.message)
    throw err
  }
  // A rooms section that is not a mapping is left for the schema to reject.
  const rooms = tree.rooms === undefined ? (tree.rooms = {}) : isTree(tree.rooms) ? tree.rooms : undefined
  const serverPool = typeof rooms?.serverPool === 'string' ? rooms.serverPool : DEFAULT_SERVER_POOL
  for (const { key: rawKey, value, from, append } of overrides) {
    const key = rawKey.replace(SERVER_POOL_PLACEHOLDER, serverPool)
    setDotted(tree, key, value, append)
    // An appended value is one item of the list: the file's items are not the variable's.
    const list = append ? getDotted(tree, key) : undefined
    envFor.set(Array.isArray(list) ? `${key}[${list.length - 1}]` : key, from)
  }
  if (rooms) normalisePools(rooms, serverPool)

  // Seed 001's three services always exist; the file or env may only change them.
  const services = isTree(tree.services) ? tree.services : {}
  for (const [name, url] of Object.entries(SEED_SERVICES)) {
    const s = services[name]
    if (s === undefined) services[name] = { url }
    else if (isTree(s) && s.url === undefined) s.url = url
  }
  // TypeBox fills defaults inside objects and arrays, not inside record values.
  for (const [name, s] of Object.entries(services)) services[name] = Value.Default(ServiceSchema, s)
  tree.services = services

  const withDefaults = Value.Default(ConfigSchema, tree) as Tree
  const errors = [...Value.Errors(ConfigSchema, withDefaults)] as unknown as SchemaError[]
  // Unions (a health check's kind, a status source's auth type) are checked against the shape their type names.
  const authErrors = errors.filter((e) => STATUS_AUTH_PATH.test(e.instancePath))
  const problems = describeErrors(
    errors.filter((e) => !CHECK_ITEM.test(e.instancePath) && !STATUS_AUTH_PATH.test(e.instancePath)),
    ConfigSchema,
    withDefaults,
  )
  problems.push(...checkItemProblems(withDefaults))
  if (authErrors.length > 0) problems.push(...checkStatusConfig({ status: withDefaults.status as Config['status'] }, env))
  const fail = (messages: string[]) => new ConfigError(unique(messages.map((m) => withEnvName(m, envFor))).join('; '))
  if (problems.length > 0) throw fail(problems)

  const config = withDefaults as unknown as Config
  // Status sources and device keys name env vars and files for their secrets: they must exist where this process runs.
  const semantic = [...checkConfig(config), ...checkStatusConfig(config, env), ...checkDevicesConfig(config, env)]
  if (semantic.length > 0) throw fail(semantic)
  return deepFreeze(config)
}

/**
 * The server pool always exists (seed 003 works out of the box): least-loaded
 * over gxy1 … gxy12 unless the file or AVAILABLE_JANUS_SERVERS says otherwise.
 * TypeBox fills defaults inside objects and arrays, not inside record values.
 */
function normalisePools(rooms: Tree, serverPool: string): void {
  if (rooms.pools !== undefined && !isTree(rooms.pools)) return
  const pools = isTree(rooms.pools) ? rooms.pools : (rooms.pools = {})
  const server = pools[serverPool] ?? (pools[serverPool] = {})
  if (isTree(server)) {
    server.strategy ??= 'least-loaded'
    server.nodes ??= [...DEFAULT_JANUS_SERVERS]
  }
  for (const [name, pool] of Object.entries(pools)) if (isTree(pool)) pools[name] = Value.Default(PoolSchema, pool)
}

export function loadConfig(options: LoadOptions = {}): Readonly<Config> {
  const tree = options.file ? readConfigFile(options.file) : {}
  // A relative folder (assets, jobs root) is relative to the file that names it.
  for (const [section, key] of [['assets', 'dir'], ['jobs', 'root']] as const) {
    const node = tree[section]
    const value = isTree(node) ? node[key] : undefined
    if (options.file && isTree(node) && typeof value === 'string' && !isAbsolute(value)) {
      node[key] = resolve(dirname(options.file), value)
    }
  }
  // So are the secret files of status sources.
  const sources = isTree(tree.status) && Array.isArray(tree.status.sources) ? tree.status.sources : []
  for (const source of sources) {
    const auth = isTree(source) && isTree(source.auth) ? source.auth : undefined
    for (const key of ['tokenFile', 'keyFile', 'passwordFile']) {
      const value = auth?.[key]
      if (options.file && auth && typeof value === 'string' && !isAbsolute(value)) auth[key] = resolve(dirname(options.file), value)
    }
  }
  // And the device key files (issue 13).
  const devices = isTree(tree.auth) && isTree(tree.auth.devices) ? tree.auth.devices : undefined
  for (const [list, key] of [['hmacSecrets', 'secretFile'], ['publicKeys', 'file']] as const) {
    const entries = devices && Array.isArray(devices[list]) ? (devices[list] as unknown[]) : []
    for (const entry of entries) {
      const value = isTree(entry) ? entry[key] : undefined
      if (options.file && isTree(entry) && typeof value === 'string' && !isAbsolute(value)) entry[key] = resolve(dirname(options.file), value)
    }
  }
  if (options.settings) mergeInto(tree, options.settings)
  return buildConfig(tree, options.env ?? process.env)
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)]
}

/** Freezes every object of the tree not frozen already (subtrees taken from a frozen config stay as they are). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}
