/**
 * `roomgate config check FILE`: loads the file as `roomgate start` would
 * (environment variables on top) without starting anything, and prints "ok"
 * with what the config sets up, or the config error naming its dotted key
 * (exit 2), or a jobs.root that cannot be read here. No secret is printed: credentials are counted, URLs lose theirs.
 */
import { ConfigError, loadConfig } from '../config/load.js'
import type { Config } from '../config/schema.js'
import { safeUrl } from '../log.js'
import { redisTarget } from '../engine/index.js'
import { EXIT, usageError } from './exit.js'
import { didYouMean } from '../config/suggest.js'
import { fields, printJson } from './format.js'
import { jobsRootProblem } from './jobs-root-check.js'
import { onlyOptions, type Values } from './options.js'

export async function configCommand(sub: string | undefined, args: string[], values: Values): Promise<number> {
  if (sub !== 'check') throw usageError(sub === undefined ? 'config needs a subcommand: check' : `unknown config subcommand ${JSON.stringify(sub)}${didYouMean(sub, ['check'])}`)
  onlyOptions(values, 'config check', ['config', 'json'])
  const file = args[0] ?? values.config
  if (file === undefined || args.length > 1 || (args[0] !== undefined && values.config !== undefined)) {
    throw usageError('config check needs exactly one FILE')
  }
  const refuse = (error: string) => {
    if (values.json) printJson({ ok: false, file, error })
    console.error(`roomgate: config error: ${error}`)
    return EXIT.usage
  }
  let config: Readonly<Config>
  try {
    config = loadConfig({ file })
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    return refuse(err.message)
  }
  // The files it names exist here: jobs.root is the one `start` does not insist on.
  const root = jobsRootProblem(config.jobs.root)
  if (root !== undefined) return refuse(root)
  const summary = summarize(config)
  if (values.json) printJson({ ok: true, file, summary })
  else {
    console.log(`ok: ${file}`)
    console.log(describe(summary))
  }
  return EXIT.ok
}

export function summarize(c: Readonly<Config>) {
  return {
    engine: redisTarget(c) === undefined ? 'memory' : 'redis',
    redisUrl: redisTarget(c) ?? null,
    listen: `${c.host}:${c.port}`,
    services: Object.fromEntries(Object.entries(c.services).map(([name, s]) => [name, safeUrl(s.url)])),
    pools: Object.fromEntries(Object.entries(c.rooms.pools).map(([name, p]) => [name, { strategy: p.strategy, nodes: p.nodes.length }])),
    serverPool: c.rooms.serverPool,
    legacyPool: c.rooms.legacyPool ?? null,
    jobsRoot: c.jobs.root ?? null,
    statusSources: c.status.sources.map((s) => s.slug),
    healthChecks: [...(c.health.s3.bucket !== undefined ? ['s3'] : []), ...c.health.checks.map((h) => h.name)],
    assetsDir: c.assets.dir ?? null,
    credentials: { apiKeys: c.auth.apiKeys.length, bearerTokens: c.auth.bearerTokens.length, internalToken: c.auth.internalToken !== '' },
  }
}

const list = (xs: readonly string[]) => (xs.length === 0 ? 'none' : xs.join(', '))

function describe(s: ReturnType<typeof summarize>): string {
  const pools = Object.entries(s.pools).map(([name, p]) => {
    const role = name === s.legacyPool ? ', seed 000' : name === s.serverPool ? ', seed 003' : ''
    return `${name} (${p.strategy}, ${p.nodes} node${p.nodes === 1 ? '' : 's'}${role})`
  })
  const { apiKeys, bearerTokens, internalToken } = s.credentials
  return fields([
    ['engine', s.redisUrl === null ? s.engine : `${s.engine} (${s.redisUrl})`],
    ['listen', s.listen],
    ['services', list(Object.entries(s.services).map(([name, url]) => `${name} ${url}`))],
    ['pools', list(pools)],
    ['jobs root', s.jobsRoot ?? 'not set (new cache jobs are refused)'],
    ['status', list(s.statusSources)],
    ['health', list(s.healthChecks)],
    ['assets', s.assetsDir ?? 'not served'],
    ['credentials', `${apiKeys} API key${apiKeys === 1 ? '' : 's'}, ${bearerTokens} bearer token${bearerTokens === 1 ? '' : 's'}, internal token ${internalToken ? 'set' : 'not set'}`],
  ])
}
