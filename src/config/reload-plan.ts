/**
 * What a config reload (SIGHUP, `roomgate reload`) may change in a running
 * instance: the one place that says which keys apply live. `LIVE_KEYS` are
 * taken from the new config (server.ts hands them to the capabilities);
 * every other key that differs keeps its running value until a restart and
 * is named, as are the exceptions inside a live key (`RESTART_UNDER_LIVE`).
 * Pure: reading the file is load.ts's, the orchestration reload.ts's.
 */
import { createHash } from 'node:crypto'
import { checkConfig } from './checks.js'
import { deepFreeze } from './load.js'
import type { Config } from './schema.js'

/** Keys a reload applies without a restart; `*` stands for any one name. */
export const LIVE_KEYS = [
  'auth.bearerTokens',
  'auth.apiKeys',
  'auth.internalToken',
  'auth.devices',
  'services',
  'rateLimit',
  'events.routes',
  'proxy.routes',
  'rooms.pools',
  'rooms.serverPool',
  'status.sources',
  'health',
] as const

/** Inside a live key, what still needs a restart: the legacy pool's monitor runs on its first interval. */
const RESTART_UNDER_LIVE = ['rooms.pools.*.monitorIntervalMs']

export interface ReloadPlan {
  /** What to run: the new config, with every restart-only key at its running value. */
  config: Readonly<Config>
  /** The live keys whose value changes (of `LIVE_KEYS`). */
  changed: string[]
  /** The keys whose new value needs a restart, dotted as `config check` names them; they keep the running one. */
  restartOnly: string[]
  /** Why `config` cannot run (a live key that no longer fits a kept one, such as a removed legacy pool). */
  problems: string[]
}

type Tree = Record<string, unknown>
const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v)

const patterns = (keys: readonly string[]) => keys.map((k) => k.split('.'))
const LIVE = patterns(LIVE_KEYS)
const RESTART = patterns(RESTART_UNDER_LIVE)

/** `pattern` names `path` or one of its parents. */
const covers = (pattern: string[], path: string[]) => pattern.length <= path.length && pattern.every((p, i) => p === '*' || p === path[i])
/** `pattern` names something strictly inside `path`. */
const inside = (pattern: string[], path: string[]) => pattern.length > path.length && path.every((p, i) => pattern[i] === '*' || pattern[i] === p)

export function planReload(running: Readonly<Config>, next: Readonly<Config>): ReloadPlan {
  const restartOnly: string[] = []
  const merge = (run: unknown, nxt: unknown, path: string[]): unknown => {
    const live = LIVE.some((p) => covers(p, path)) && !RESTART.some((p) => covers(p, path))
    if (live && !RESTART.some((p) => inside(p, path))) return nxt
    if (isTree(run) && isTree(nxt)) {
      const out: Tree = {}
      for (const key of new Set([...Object.keys(run), ...Object.keys(nxt)])) {
        const value = merge(run[key], nxt[key], [...path, key])
        if (value !== undefined) out[key] = value
      }
      return out
    }
    // A new pool, say, has no running value to keep.
    if (live) return nxt
    if (canonicalJson(run) !== canonicalJson(nxt)) restartOnly.push(path.join('.'))
    return run
  }
  const config = deepFreeze(merge(running, next, []) as Config)
  const at = (c: unknown, key: string) => key.split('.').reduce<unknown>((node, k) => (isTree(node) ? node[k] : undefined), c)
  const changed = LIVE_KEYS.filter((key) => canonicalJson(at(running, key)) !== canonicalJson(at(config, key)))
  return { config, changed, restartOnly, problems: checkConfig(config) }
}

/** JSON with the keys of every object sorted: equal configs give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isTree(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v,
  ) ?? 'undefined'
}

/** The first 12 hex digits of the SHA-256 of the canonical JSON: what `/healthz` shows of the running config. */
export function configHash(config: Readonly<Config>): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 12)
}
