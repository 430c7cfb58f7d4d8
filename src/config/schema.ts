/**
 * The whole configuration tree: one typed schema, defaults as named constants
 * with their units. `load.ts` merges the file and the environment, fills the
 * defaults, validates against this schema and freezes the result.
 */
import Type from 'typebox'
import { HealthSchema } from './health-schema.js'
import { JobsSchema } from './jobs-schema.js'
import { StatusSchema } from './status-schema.js'
import { AssetsSchema, RoomsSchema } from './rooms-schema.js'
import { AdminSchema, FailedAuthSchema, HttpSchema } from './http-schema.js'
import { DevicesSchema } from './devices-schema.js'

export const DEFAULT_PORT = 8080
export const DEFAULT_HOST = '0.0.0.0'
export const DEFAULT_RATE_LIMIT_RPS = 10
export const DEFAULT_RATE_LIMIT_BURST = 20
export const DEFAULT_MAX_MESSAGE_BYTES = 65_536
export const DEFAULT_HTTP_TIMEOUT_SECONDS = 10
export const DEFAULT_UPSTREAM_CONNECTIONS = 128
export const DEFAULT_PING_INTERVAL_MS = 25_000
export const DEFAULT_MAX_BUFFERED_BYTES = 1_048_576
export const DEFAULT_MAX_INFLIGHT = 16
export const DEFAULT_MAX_CONNECTIONS = 100_000
export const DEFAULT_MAX_CONNECTIONS_PER_IP = 1_000
export const DEFAULT_BROADCAST_ACK_TIMEOUT_MS = 1_000
export const DEFAULT_HISTORY_SIZE = 100
export const DEFAULT_HISTORY_TTL_SECONDS = 300
export const DEFAULT_HISTORY_META_TTL_SECONDS = 86_400
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 1_000
export const DEFAULT_REDIS_CONNECT_TIMEOUT_MS = 2_000
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000

/** Seed 001's services and their default URLs (`LOBBY_URL`, `MEASUREMENT_URL`, `SIMULATION_URL`). */
export const SEED_SERVICES: Readonly<Record<string, string>> = {
  lobby: 'http://lobby:8000',
  measurement: 'http://measurement:8000',
  simulation: 'http://simulation:8000',
}

/** Seed 001's routing table: the first entry whose pattern matches an event wins. */
export const SEED_EVENT_ROUTES = [
  { match: ['lobby.*', 'role.*'], service: 'lobby' },
  {
    // Measurement *session* events are stateful coordination: the lobby owns them.
    match: [
      'measurement.create_session',
      'measurement.start_speaker',
      'measurement.session_status',
      'measurement.cancel_session',
      'measurement.ready',
      'measurement.speaker_audio_ready',
      'measurement.recording_started',
      'measurement.playback_complete',
      'measurement.recording_uploaded',
      'measurement.error',
    ],
    service: 'lobby',
  },
  { match: ['measurement.*', 'analysis.*'], service: 'measurement' },
  { match: ['simulation.*'], service: 'simulation' },
]

/** Seed 001's HTTP proxy routes. */
export const SEED_PROXY_ROUTES = [
  { prefix: '/v1/measurement', service: 'measurement' },
  { prefix: '/v1/jobs', service: 'measurement' },
  { prefix: '/v1/simulation', service: 'simulation' },
]

const closed = { additionalProperties: false } as const
const section = { additionalProperties: false, default: {} } as const

export const ServiceSchema = Type.Object(
  {
    url: Type.String({ minLength: 1, description: 'Base URL of the service (http or https).' }),
    connections: Type.Integer({
      minimum: 1,
      default: DEFAULT_UPSTREAM_CONNECTIONS,
      description: 'Keep-alive connections in the pool to this service.',
    }),
  },
  closed,
)

const EventRoute = Type.Object(
  {
    match: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description: 'Exact event names, or prefixes ending in `.*`.',
    }),
    service: Type.String({ minLength: 1 }),
  },
  closed,
)

const ProxyRoute = Type.Object(
  {
    prefix: Type.String({ pattern: '^/[^?#]*$', description: 'Path prefix, forwarded unchanged.' }),
    service: Type.String({ minLength: 1 }),
    auth: Type.Enum(['none', 'bearer', 'apiKey', 'token'], {
      default: 'none',
      description:
        'Credentials the route requires: a bearer token of auth.bearerTokens, an X-API-Key, or a device token (a JWT checked with auth.devices keys; its device reaches the upstream as X-Roomgate-Device-Id).',
    }),
  },
  closed,
)

export const ConfigSchema = Type.Object(
  {
    port: Type.Integer({ minimum: 0, maximum: 65_535, default: DEFAULT_PORT }),
    host: Type.String({ minLength: 1, default: DEFAULT_HOST }),
    redisUrl: Type.Optional(Type.String({ pattern: '^rediss?://', description: 'Absent: memory engine.' })),
    logLevel: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
    log: Type.Object(
      {
        format: Type.Enum(['auto', 'pretty', 'json'], {
          default: 'auto',
          description: '`auto`: human lines when stdout is a terminal, JSON otherwise.',
        }),
        access: Type.Boolean({ default: false, description: 'One line per HTTP request, in the combined log format.' }),
      },
      section,
    ),
    trustProxy: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description:
        'Addresses or CIDRs of your own proxies (or loopback, linklocal, uniquelocal); X-Forwarded-* from them is believed.',
    }),
    auth: Type.Object(
      {
        bearerTokens: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
        apiKeys: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
        internalToken: Type.String({ default: '', description: 'Empty: /internal/broadcast refuses every call.' }),
        failedAttempts: FailedAuthSchema,
        devices: DevicesSchema,
      },
      section,
    ),
    services: Type.Record(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_-]*$' }), ServiceSchema, { default: {} }),
    rateLimit: Type.Object(
      {
        rps: Type.Number({ exclusiveMinimum: 0, default: DEFAULT_RATE_LIMIT_RPS }),
        burst: Type.Number({ minimum: 1, default: DEFAULT_RATE_LIMIT_BURST }),
        perDevice: Type.Optional(
          Type.Object(
            { rps: Type.Number({ exclusiveMinimum: 0 }), burst: Type.Number({ minimum: 1 }) },
            { ...closed, description: "One bucket per device for its /ws messages, across its connections and the cluster's instances." },
          ),
        ),
      },
      section,
    ),
    http: HttpSchema,
    admin: AdminSchema,
    maxMessageBytes: Type.Integer({ minimum: 64, default: DEFAULT_MAX_MESSAGE_BYTES }),
    httpTimeoutSeconds: Type.Number({ exclusiveMinimum: 0, default: DEFAULT_HTTP_TIMEOUT_SECONDS }),
    events: Type.Object({ routes: Type.Array(EventRoute, { default: SEED_EVENT_ROUTES }) }, section),
    proxy: Type.Object({ routes: Type.Array(ProxyRoute, { default: SEED_PROXY_ROUTES }) }, section),
    ws: Type.Object(
      {
        pingIntervalMs: Type.Integer({ minimum: 100, default: DEFAULT_PING_INTERVAL_MS }),
        maxBufferedBytes: Type.Integer({ minimum: 1024, default: DEFAULT_MAX_BUFFERED_BYTES }),
        maxInflight: Type.Integer({
          minimum: 1,
          default: DEFAULT_MAX_INFLIGHT,
          description: 'Service calls one connection may have waiting for an answer.',
        }),
        maxConnections: Type.Integer({
          minimum: 1,
          default: DEFAULT_MAX_CONNECTIONS,
          description: 'WebSocket connections one instance accepts; past it upgrades get 503 server_busy.',
        }),
        maxConnectionsPerIp: Type.Integer({
          minimum: 1,
          default: DEFAULT_MAX_CONNECTIONS_PER_IP,
          description: 'WebSocket connections one client IP may hold on one instance; past it upgrades get 429.',
        }),
      },
      section,
    ),
    broadcast: Type.Object(
      { ackTimeoutMs: Type.Integer({ minimum: 1, default: DEFAULT_BROADCAST_ACK_TIMEOUT_MS }) },
      section,
    ),
    realtime: Type.Object(
      {
        history: Type.Object(
          {
            size: Type.Integer({
              minimum: 0,
              maximum: 10_000,
              default: DEFAULT_HISTORY_SIZE,
              description: 'Events kept per stream (device:<id>, room:<name>, all) for recover; 0 turns history off.',
            }),
            ttlSeconds: Type.Integer({
              minimum: 1,
              default: DEFAULT_HISTORY_TTL_SECONDS,
              description: "A stream's kept events are dropped this long after its last event.",
            }),
            metaTtlSeconds: Type.Integer({
              minimum: 1,
              default: DEFAULT_HISTORY_META_TTL_SECONDS,
              description: "A stream's epoch and offset are kept this long after its last use; past it the stream starts a new epoch.",
            }),
          },
          section,
        ),
      },
      section,
    ),
    redis: Type.Object(
      {
        commandTimeoutMs: Type.Integer({ minimum: 1, default: DEFAULT_REDIS_COMMAND_TIMEOUT_MS }),
        connectTimeoutMs: Type.Integer({ minimum: 1, default: DEFAULT_REDIS_CONNECT_TIMEOUT_MS }),
        sentinel: Type.Optional(
          Type.Object(
            {
              sentinels: Type.Array(Type.String({ pattern: '^[^\\s:]+:[0-9]{1,5}$', description: 'host:port of a Sentinel' }), { minItems: 1 }),
              name: Type.String({ minLength: 1, description: 'The master group Sentinel monitors' }),
              password: Type.Optional(Type.String({ description: 'The master’s password (prefer redisUrl’s, or none)' })),
            },
            { ...closed, description: 'Redis behind Sentinel: roomgate asks the sentinels for the master and follows a failover.' },
          ),
        ),
        cluster: Type.Optional(
          Type.Object(
            {
              nodes: Type.Array(Type.String({ pattern: '^[^\\s:]+:[0-9]{1,5}$', description: 'host:port of a cluster node' }), { minItems: 1 }),
              password: Type.Optional(Type.String({ description: 'The nodes’ password (none by default)' })),
            },
            { ...closed, description: 'Redis Cluster: a few nodes to start from; roomgate finds the others and follows failovers and resharding.' },
          ),
        ),
        waitReplicas: Type.Optional(
          Type.Object(
            {
              replicas: Type.Integer({ minimum: 1, description: 'Replicas that must hold a write before it is acknowledged' }),
              timeoutMs: Type.Integer({ minimum: 1, default: 500, description: 'How long to wait for them (less than redis.commandTimeoutMs); past it the call answers 503' }),
            },
            {
              ...closed,
              description: 'Job creation and room placements wait (WAIT) until this many replicas hold them, so a failover cannot lose an acknowledged one.',
            },
          ),
        ),
      },
      section,
    ),
    shutdown: Type.Object(
      { drainTimeoutMs: Type.Integer({ minimum: 0, default: DEFAULT_DRAIN_TIMEOUT_MS }) },
      section,
    ),
    docs: Type.Object(
      { enabled: Type.Boolean({ default: true, description: 'Serve the OpenAPI document at /docs/json and its page at /docs.' }) },
      section,
    ),
    rooms: RoomsSchema,
    assets: AssetsSchema,
    jobs: JobsSchema,
    health: HealthSchema,
    status: StatusSchema,
  },
  closed,
)

export type Config = Type.Static<typeof ConfigSchema>
export type ServiceConfig = Config['services'][string]
export type EventRouteConfig = Config['events']['routes'][number]
export type ProxyRouteConfig = Config['proxy']['routes'][number]
