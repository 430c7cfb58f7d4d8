/**
 * The rooms and assets sections of the config (seeds 000 and 003). Pools are
 * named; the pool behind seed 000's API is `rooms.legacyPool`, the pool behind
 * `POST /v2/room_server` is `rooms.serverPool` (created with the
 * `AVAILABLE_JANUS_SERVERS` nodes when the file does not define it).
 */
import Type from 'typebox'

export const DEFAULT_SERVER_POOL = 'janus'
/** Seed 003's default `AVAILABLE_JANUS_SERVERS`: gxy1 … gxy12. */
export const DEFAULT_JANUS_SERVERS = Array.from({ length: 12 }, (_, i) => `gxy${i + 1}`)
export const DEFAULT_POOL_CAPACITY = 200
export const DEFAULT_MONITOR_INTERVAL_MS = 5_000
export const DEFAULT_DOWN_AFTER_POLLS = 3
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 60
export const DEFAULT_PRESENCE_TTL_SECONDS = 30

/** A node id: what `{node}` becomes in the control URLs, and the first field of seed 000's value. */
export const NODE_PATTERN = '^[^|{}\\s]{1,253}$'

export const PoolSchema = Type.Object(
  {
    strategy: Type.Enum(['exclusive', 'least-loaded', 'fill'], {
      description: 'exclusive: one room per node (seed 000); least-loaded or fill: shared nodes (seed 003).',
    }),
    nodes: Type.Array(Type.String({ pattern: NODE_PATTERN }), { default: [] }),
    capacity: Type.Integer({
      minimum: 1,
      default: DEFAULT_POOL_CAPACITY,
      description: 'Users per node: `fill` moves on to the next node past it.',
    }),
    progressUrl: Type.Optional(Type.String({ description: 'Exclusive pools: GET {gw_state, recording_duration, transcript_progress}.' })),
    startUrl: Type.Optional(Type.String({ description: 'Exclusive pools: POSTed when a room starts on a node.' })),
    stopUrl: Type.Optional(Type.String({ description: 'Exclusive pools: POSTed when a room stops.' })),
    monitorIntervalMs: Type.Integer({ minimum: 100, default: DEFAULT_MONITOR_INTERVAL_MS }),
    downAfterPolls: Type.Integer({
      minimum: 1,
      default: DEFAULT_DOWN_AFTER_POLLS,
      description: 'Consecutive failed polls after which a node counts as down for its stopped room.',
    }),
  },
  { additionalProperties: false },
)

export const RoomsSchema = Type.Object(
  {
    pools: Type.Record(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_-]*$' }), PoolSchema, { default: {} }),
    legacyPool: Type.Optional(Type.String({ minLength: 1, description: "The exclusive pool behind seed 000's API." })),
    serverPool: Type.String({ minLength: 1, default: DEFAULT_SERVER_POOL }),
    idleTimeoutSeconds: Type.Number({ exclusiveMinimum: 0, default: DEFAULT_IDLE_TIMEOUT_SECONDS }),
    presenceTtlSeconds: Type.Number({ minimum: 1, default: DEFAULT_PRESENCE_TTL_SECONDS }),
    serverApiAuth: Type.Enum(['none', 'bearer'], {
      default: 'none',
      description: "Credentials for /v2/room_server, /rooms and presence (none keeps seed 003's curl working).",
    }),
  },
  { additionalProperties: false, default: {} },
)

export const AssetsSchema = Type.Object(
  { dir: Type.Optional(Type.String({ minLength: 1, description: 'Folder served at /assets/, without auth.' })) },
  { additionalProperties: false, default: {} },
)

export type PoolConfig = Type.Static<typeof PoolSchema>
export type RoomsConfig = Type.Static<typeof RoomsSchema>
