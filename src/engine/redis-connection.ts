/**
 * ioredis connections with an explicit failure policy: no offline queue for
 * commands (a call made while Redis is down fails at once, the caller answers
 * 503 or fails open), bounded command and connect timeouts, and reconnection
 * with capped, jittered backoff forever.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'

export const MAX_RECONNECT_DELAY_MS = 2_000

export interface SentinelSettings {
  sentinels: ReadonlyArray<{ host: string; port: number }>
  /** The master group's name. */
  name: string
  password?: string
}

export interface ClusterSettings {
  /** A few nodes to discover the cluster from. */
  nodes: ReadonlyArray<{ host: string; port: number }>
  password?: string
}

export interface ConnectionSettings {
  /** A Redis URL; ignored with `sentinel` or `cluster`. */
  url: string
  sentinel?: SentinelSettings
  cluster?: ClusterSettings
  commandTimeoutMs: number
  connectTimeoutMs: number
  /** Shown by `CLIENT LIST`, so an operator can tell whose connection it is. */
  name: string
}

export function reconnectDelay(attempt: number): number {
  const base = Math.min(50 * 2 ** Math.min(attempt, 10), MAX_RECONNECT_DELAY_MS)
  return Math.round(base / 2 + Math.random() * (base / 2))
}

function options(s: ConnectionSettings): RedisOptions {
  return {
    connectionName: s.name,
    connectTimeout: s.connectTimeoutMs,
    retryStrategy: reconnectDelay,
    enableReadyCheck: true,
    lazyConnect: false,
  }
}

/**
 * A connection to `url`; or to the master the sentinels name (followed across
 * a failover); or to a Redis Cluster, one connection per node, commands routed
 * by slot, following failovers and resharding. A cluster client is typed as a
 * Redis: the stores use only commands both have (keys of one slot per call).
 */
function connect(s: ConnectionSettings, o: RedisOptions, c: ClusterOptions = {}): Redis {
  if (s.cluster) {
    const { enableOfflineQueue, enableAutoPipelining, ...node } = o
    const cluster = new Cluster(
      s.cluster.nodes.map((n) => ({ ...n })),
      {
        ...c,
        redisOptions: { ...node, ...(s.cluster.password === undefined ? {} : { password: s.cluster.password }) },
        clusterRetryStrategy: reconnectDelay,
        slotsRefreshTimeout: s.connectTimeoutMs,
        ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
        ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
        // Scripts whose number of keys varies: auto-pipelining would route them by their
        // first argument (the count), not by their first key.
        autoPipeliningIgnoredCommands: ['rgHistPublish'],
      },
    )
    return cluster as unknown as Redis
  }
  if (!s.sentinel) return new Redis(s.url, o)
  return new Redis({
    ...o,
    sentinels: s.sentinel.sentinels.map((x) => ({ ...x })),
    name: s.sentinel.name,
    ...(s.sentinel.password === undefined ? {} : { password: s.sentinel.password }),
    role: 'master',
    // A dead master closes our sockets; each reconnect asks the sentinels again, so the
    // connection lands on the promoted replica as soon as they name it.
    sentinelRetryStrategy: reconnectDelay,
  })
}

/** The connection for commands: fails fast whenever it is not connected. */
export function commandConnection(s: ConnectionSettings): Redis {
  return connect(s, {
    ...options(s),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: s.commandTimeoutMs,
    // Commands issued in the same tick (rate-limit checks under load) go out in one write.
    enableAutoPipelining: true,
  })
}

/**
 * The subscriber connection. Its offline queue stays on: only our own
 * SUBSCRIBE/UNSUBSCRIBE calls go through it (a handful, bounded), and they must
 * reach Redis when it comes back. ioredis re-subscribes after reconnects. On
 * a cluster it subscribes to sharded channels: one connection per master.
 */
export function subscriberConnection(s: ConnectionSettings): Redis {
  return connect(s, { ...options(s), enableOfflineQueue: true, maxRetriesPerRequest: null }, { shardedSubscribers: true })
}

/** The connections to each master (a cluster's, or the one Redis), for commands that look at every node (SCAN). */
export function masters(client: Redis): Redis[] {
  const c: unknown = client
  return c instanceof Cluster ? c.nodes('master') : [client]
}

/** Resolves true once `client` is ready, false after `ms`. */
export function waitReady(client: Redis, ms: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true)
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer)
      client.off('ready', onReady)
      resolve(ok)
    }
    const onReady = () => done(true)
    const timer = setTimeout(() => done(false), ms)
    client.on('ready', onReady)
  })
}

/**
 * Settles with `promise`'s value, or with undefined after `ms`; never rejects.
 * For calls whose answer is nice to have (UNSUBSCRIBE at shutdown, PING).
 */
export function settleWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms)
    promise.then(
      (v) => {
        clearTimeout(timer)
        resolve(v)
      },
      () => {
        clearTimeout(timer)
        resolve(undefined)
      },
    )
  })
}

/** QUIT politely, then cut the socket if Redis does not answer in time. */
export async function release(client: Redis, ms: number): Promise<void> {
  if (client.status === 'end') return
  if (client.status !== 'ready' || ms <= 0) {
    client.disconnect(false)
    return
  }
  const answered = await settleWithin(client.quit(), ms)
  if (answered === undefined) client.disconnect(false)
}
