/**
 * Config reload (SIGHUP, `POST /admin/reload`, `roomgate reload`): the file
 * and the environment are read again as `start` reads them, planned
 * (config/reload-plan.ts says what is live), and either refused, with one log
 * line naming the problems while the running config stays, or applied to the
 * capabilities (server.ts), with one line saying what changed and one naming
 * what needs a restart. One reload at a time; no connection is closed.
 */
import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import Type from 'typebox'
import { ConfigError } from './config/load.js'
import { configHash, planReload } from './config/reload-plan.js'
import type { Config } from './config/schema.js'
import { RoomgateError } from './errors.js'
import type { Logger } from './log.js'
import type { Counter, Registry } from './metrics/registry.js'
import { errors, SECURITY } from './openapi/schemas.js'

/** The running config, as `/healthz` shows it. */
export interface ConfigInfo {
  /** The first 12 hex digits of the SHA-256 of its canonical JSON. */
  hash: string
  /** When it was loaded: the start, or the last reload applied (ISO 8601). */
  loadedAt: string
}

export interface ReloadResult extends ConfigInfo {
  outcome: 'applied' | 'refused'
  /** The live keys that changed (`services`, `rateLimit`, `auth.bearerTokens`…). */
  changed: string[]
  /** Keys that differ but need a restart: they keep their running value. */
  restartOnly: string[]
  /** Why a refused config was refused. */
  problems: string[]
}

export interface ReloaderOptions {
  config: Readonly<Config>
  /** Reads the config again (file, then env); throws a ConfigError. Without it a reload is refused. */
  load: (() => Readonly<Config>) | undefined
  /** Hands the live keys to the capabilities (`changed` says which differ); a ConfigError (a key file gone since the load) refuses the reload. */
  apply: (next: Readonly<Config>, changed: readonly string[]) => Promise<void>
  log: Logger
  registry: Registry
}

export class Reloader {
  private running: Readonly<Config>
  private current: ConfigInfo
  private last: Promise<unknown> = Promise.resolve()
  private readonly outcomes: Counter

  constructor(private readonly o: ReloaderOptions) {
    this.running = o.config
    this.current = { hash: configHash(o.config), loadedAt: new Date().toISOString() }
    this.outcomes = o.registry.counter('roomgate_config_reloads_total', 'Config reloads, by outcome (applied, refused).', ['outcome'])
  }

  /** The config running now. */
  get config(): Readonly<Config> {
    return this.running
  }

  get info(): ConfigInfo {
    return this.current
  }

  /** Reads, checks and applies the config; waits for a reload already under way first. */
  reload(): Promise<ReloadResult> {
    const run = this.last.then(() => this.once())
    this.last = run.catch(() => undefined)
    return run
  }

  private async once(): Promise<ReloadResult> {
    const { log } = this.o
    let next: Readonly<Config>
    try {
      if (!this.o.load) throw new ConfigError('this instance was started without a config to read again')
      next = this.o.load()
    } catch (err) {
      if (err instanceof ConfigError) return this.refuse(err.message.split('; '))
      throw err
    }
    const plan = planReload(this.running, next)
    if (plan.problems.length > 0) return this.refuse(plan.problems)
    try {
      await this.o.apply(plan.config, plan.changed)
    } catch (err) {
      if (err instanceof ConfigError) return this.refuse([err.message])
      throw err
    }
    this.running = plan.config
    this.current = { hash: configHash(plan.config), loadedAt: new Date().toISOString() }
    this.outcomes.child('applied').inc()
    const { changed, restartOnly } = plan
    if (restartOnly.length > 0) {
      log.warn({ keys: restartOnly }, `config reload: these settings need a restart and keep their running values: ${restartOnly.join(', ')}`)
    }
    log.info(
      { changed, hash: this.current.hash },
      `config reloaded: ${changed.length > 0 ? changed.join(', ') : 'nothing live changed'} (hash ${this.current.hash})`,
    )
    return { outcome: 'applied', ...this.current, changed, restartOnly, problems: [] }
  }

  private refuse(problems: string[]): ReloadResult {
    this.outcomes.child('refused').inc()
    this.o.log.error({ problems }, `config reload refused, the running config stays: ${problems.join('; ')}`)
    return { outcome: 'refused', ...this.current, changed: [], restartOnly: [], problems }
  }
}

const ReloadAnswer = Type.Object({
  outcome: Type.Literal('applied'),
  hash: Type.String({ description: 'The running config: the first 12 hex digits of the SHA-256 of its canonical JSON' }),
  loadedAt: Type.String({ format: 'date-time' }),
  changed: Type.Array(Type.String(), { description: 'The live keys that changed' }),
  restartOnly: Type.Array(Type.String(), { description: 'Keys that differ but need a restart; they keep their running value' }),
})

/**
 * `POST /admin/reload`, behind a bearer token of `auth.bearerTokens` (as the
 * dashboard): where `/metrics` is, on the admin listener when there is one.
 * A refused config is a 422 naming its problems.
 */
export function registerReloadRoute(app: FastifyInstance, reload: () => Promise<ReloadResult>, guard: onRequestHookHandler): void {
  const schema = {
    tags: ['probes'],
    summary: 'Read the config file and environment again and apply what can change live (as SIGHUP)',
    security: SECURITY.bearer,
    response: { 200: ReloadAnswer, ...errors('unauthorized', 'rate_limited', 'config_refused', 'shutting_down') },
  }
  app.post('/admin/reload', { onRequest: guard, schema }, async () => {
    const result = await reload()
    if (result.outcome === 'refused') throw new RoomgateError('config_refused_because', { problems: result.problems.join('; ') })
    return result
  })
}
