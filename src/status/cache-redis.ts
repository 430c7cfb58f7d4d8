/**
 * Status snapshots in Redis, stored so that a change costs what changed: the
 * units in a hash, and each new version's changes in a short log (see
 * cache-lua.ts). A write sends the units that changed (all of them only for a
 * slug's first write); an instance that holds an older version reads the log
 * entries it missed and applies them, and reads every unit only when it is
 * further behind than the log reaches, or a change was too big to log.
 */
import type { Redis } from 'ioredis'
import type { RedisKeys } from '../engine/keys.js'
import { defineScript } from '../engine/scripts.js'
import { PUT_LUA, READ_LUA } from './cache-lua.js'
import { SNAPSHOT_TTL_MS, type PutResult, type StatusCacheStore, type StatusSnapshot } from './types.js'
import { applyChanges, changeCount, changesBetween, sortedStatuses, type StatusChanges, type Statuses } from './units.js'

/** Versions whose changes are kept: an instance further behind reads every unit. */
export const LOG_VERSIONS = 64
/** A change of more units than this is not logged (readers read every unit): the log stays small. */
export const LOG_MAX_UNITS = 1_000

type ReadReply = [] | [string, string, 'same'] | [string, string, 'log' | 'whole', string[]]

/** A log entry's change, as written (short names: it is stored once per version). */
interface LoggedChange {
  s: Statuses
  g: string[]
}

export class RedisStatusCache implements StatusCacheStore {
  private readonly putScript
  private readonly readScript
  /** The last snapshot parsed per slug (one entry per configured source). */
  private readonly parsed = new Map<string, StatusSnapshot>()

  constructor(
    redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    this.putScript = defineScript<number>(redis, 'rgStatusPut', PUT_LUA, 3)
    this.readScript = defineScript<ReadReply>(redis, 'rgStatusRead', READ_LUA, 3)
  }

  async get(slug: string): Promise<StatusSnapshot | undefined> {
    const known = this.parsed.get(slug)
    const reply = await this.readScript(...statusKeys(this.keys, slug), known?.version ?? 0, LOG_VERSIONS)
    if (reply.length === 0) return undefined
    const [version, fetchedAt, kind] = reply
    let statuses: Statuses
    if (kind === 'same') statuses = known!.statuses
    else if (kind === 'log') statuses = applyChanges(known!.statuses, reply[3].reverse().map(parseEntry))
    else statuses = sortedStatuses(pairs(reply[3]))
    const snapshot = { statuses, fetchedAt: Number(fetchedAt), version: Number(version) }
    this.parsed.set(slug, snapshot)
    return snapshot
  }

  async put(slug: string, previous: StatusSnapshot | undefined, statuses: Statuses, fetchedAt: number, bump: boolean): Promise<PutResult> {
    const changes: StatusChanges = previous ? changesBetween(previous.statuses, statuses) : { set: statuses, gone: [] }
    const logged = previous !== undefined && changeCount(changes) <= LOG_MAX_UNITS
    const set = Object.entries(changes.set)
    const version = await this.putScript(
      ...statusKeys(this.keys, slug),
      previous?.version ?? 0,
      fetchedAt,
      bump ? 1 : 0,
      SNAPSHOT_TTL_MS,
      LOG_VERSIONS,
      logged ? JSON.stringify({ s: changes.set, g: changes.gone } satisfies LoggedChange) : '',
      previous ? 'changes' : 'whole',
      set.length,
      set.flat(),
      changes.gone,
    )
    if (version < 0) return { ok: false, current: await this.get(slug) }
    const snapshot = { statuses, fetchedAt, version }
    this.parsed.set(slug, snapshot)
    return { ok: true, snapshot }
  }
}

function statusKeys(keys: RedisKeys, slug: string): [string, string, string] {
  return [keys.status(slug), keys.statusUnits(slug), keys.statusLog(slug)]
}

function parseEntry(entry: string): StatusChanges {
  const change = JSON.parse(entry.slice(entry.indexOf('\n') + 1)) as LoggedChange
  return { set: Object.assign(Object.create(null) as Statuses, change.s), gone: change.g }
}

function* pairs(flat: string[]): Generator<[string, string]> {
  for (let i = 0; i + 1 < flat.length; i += 2) yield [flat[i]!, flat[i + 1]!]
}
