/**
 * `roomgate rooms list`: every room with its pool, node, users and state
 * (GET /rooms, seed 003's listing, with the token when there is one: the
 * legacy pool's rooms are listed only with it), a per-pool summary, and with --token seed 000's gateway mappings
 * (GET /status) when the server has a legacy pool.
 */
import type { mappingView } from '../rooms/legacy-routes.js'
import type { assignmentView, legacyAssignmentView } from '../rooms/server-routes.js'
import { Client, HttpError } from './client.js'
import { EXIT, usageError } from './exit.js'
import { didYouMean } from '../config/suggest.js'
import { natural, printJson, table, when } from './format.js'
import { connection, onlyOptions, type Values } from './options.js'

type Room = ReturnType<typeof assignmentView> | ReturnType<typeof legacyAssignmentView>
type Mapping = ReturnType<typeof mappingView>

export async function roomsCommand(sub: string | undefined, args: string[], values: Values): Promise<number> {
  if (sub !== 'list') throw usageError(sub === undefined ? 'rooms needs a subcommand: list' : `unknown rooms subcommand ${JSON.stringify(sub)}${didYouMean(sub, ['list'])}`)
  onlyOptions(values, 'rooms list', ['url', 'token', 'timeout', 'json'])
  if (args.length > 0) throw usageError(`rooms list takes no arguments, got ${JSON.stringify(args[0])}`)
  const client = new Client(connection(values))
  const rooms = await listRooms(client)
  rooms.sort((a, b) => natural(a.pool, b.pool) || natural(a.room, b.room))
  const legacy = client.conn.token === undefined ? undefined : await legacyMappings(client)
  if (values.json) {
    printJson(legacy === undefined ? { rooms } : { rooms, legacy })
    return EXIT.ok
  }
  if (rooms.length === 0) console.log('no rooms')
  else {
    console.log(
      table(
        ['POOL', 'NODE', 'ROOM', 'USERS', 'STATE', 'LAST USED'],
        rooms.map((r) => [r.pool, r.node, r.room, String(r.users), r.state, when(r.lastUsedAt)]),
      ),
    )
    console.log('')
    for (const line of poolSummary(rooms)) console.log(line)
  }
  if (legacy !== undefined) {
    console.log('')
    console.log('gateway mappings (GET /status):')
    console.log(
      legacy.length === 0
        ? 'none'
        : table(
            ['ROOM', 'GATEWAY', 'STATE', 'DURATION', 'TRANSCRIPT'],
            legacy.map((m) => [m.room, m.gateway, m.state, m.recording_duration || '-', m.transcript_progress || '-']),
          ),
    )
  }
  return EXIT.ok
}

/**
 * GET /rooms with the token (it shows the legacy pool's rooms too); a token the
 * server refuses gets the open listing, and the mappings call below says so.
 */
async function listRooms(client: Client): Promise<Room[]> {
  try {
    return (await client.json<{ rooms: Room[] }>('/rooms', { auth: 'token' })).rooms
  } catch (err) {
    if (!(err instanceof HttpError && err.status === 401 && client.conn.token !== undefined)) throw err
    return (await client.json<{ rooms: Room[] }>('/rooms')).rooms
  }
}

/** `janus: 2 rooms, 3 users on 2 nodes (gxy1 2 users, gxy2 1 user)`, one line per pool. */
export function poolSummary(rooms: readonly Room[]): string[] {
  const pools = new Map<string, Map<string, { rooms: number; users: number }>>()
  for (const r of rooms) {
    let nodes = pools.get(r.pool)
    if (!nodes) pools.set(r.pool, (nodes = new Map()))
    const n = nodes.get(r.node) ?? { rooms: 0, users: 0 }
    n.rooms++
    n.users += r.users
    nodes.set(r.node, n)
  }
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`
  return [...pools].map(([pool, nodes]) => {
    const all = [...nodes.values()]
    const total = (k: 'rooms' | 'users') => all.reduce((s, n) => s + n[k], 0)
    const perNode = [...nodes].sort(([a], [b]) => natural(a, b)).map(([node, n]) => `${node} ${plural(n.users, 'user')}`)
    return `${pool}: ${plural(total('rooms'), 'room')}, ${plural(total('users'), 'user')} on ${plural(nodes.size, 'node')} (${perNode.join(', ')})`
  })
}

/** Seed 000's mappings, or undefined when the server has no legacy pool or refuses the token (said on stderr). */
async function legacyMappings(client: Client): Promise<Mapping[] | undefined> {
  try {
    return (await client.json<{ rooms: Mapping[] }>('/status', { auth: 'token' })).rooms
  } catch (err) {
    if (!(err instanceof HttpError)) throw err
    if (err.status !== 404) console.error(`roomgate: no gateway mappings: ${err.message}`)
    return undefined
  }
}
