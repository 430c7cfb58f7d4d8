/**
 * Every Redis key and pub/sub channel roomgate uses. All live under `rg:`,
 * except seed 000's `room:{name}` mapping. Pool names hold no `:`, so the
 * prefixes below never overlap.
 */
export const PREFIX = 'rg:'

/** Seed 000's mapping keys, readable with `redis-cli GET room:math101`. Deliberately not under rg:. */
export const LEGACY_ROOM_PREFIX = 'room:'

/**
 * Streams share their Redis Cluster slot with the other streams of their
 * group (one of 64), so one script can append a broadcast to every stream of
 * a group and publish it on the group's sharded channel.
 */
export const STREAM_GROUPS = 64

/** FNV-1a: the stream's group, the same on every instance. */
export function streamGroup(stream: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < stream.length; i++) h = Math.imul(h ^ stream.charCodeAt(i), 0x01000193)
  return (h >>> 0) % STREAM_GROUPS
}

/**
 * The key names for one Redis deployment. With one Redis (or Sentinel) they
 * are the names roomgate has always used. On a Redis Cluster, the keys one
 * script touches share a hash tag, so they share a slot: a pool's keys carry
 * `{pool}`, a job's and the job indexes `{jobs}`, a stream's its group's
 * `{bcN}`. Seed 000's `room:<name>` keeps its exact name in both.
 */
export function keyLayout(cluster: boolean) {
  const tag = cluster ? (s: string) => `{${s}}` : (s: string) => s
  const jobs = cluster ? '{jobs}' : ''
  const hist = cluster ? (stream: string) => `{bc${streamGroup(stream)}}:${stream}` : (stream: string) => `{${stream}}`
  return {
    cluster,
    /** Token bucket hash {tokens, ts} for one limiter and one client. */
    rateLimit: (limiter: string, id: string) => `${PREFIX}rl:${limiter}:${id}`,
    /** Seed 000: `node|state|duration|progress`. */
    legacyRoom: (room: string) => `${LEGACY_ROOM_PREFIX}${room}`,
    /** Hash node → room: the nodes of an exclusive pool that are in use. */
    exclusiveNodes: (pool: string) => `${PREFIX}xnodes:${tag(pool)}`,
    /** Hash node → when it was taken (epoch ms): a taking whose mapping is not written yet is not stale. */
    exclusiveTaken: (pool: string) => `${PREFIX}xtaken:${tag(pool)}`,
    /** Hash room → node: the assignments of a shared pool. */
    assignments: (pool: string) => `${PREFIX}assign:${tag(pool)}`,
    /** Hash room → last use, epoch ms (Redis clock). */
    lastUsed: (pool: string) => `${PREFIX}used:${tag(pool)}`,
    /** Sorted set of `user\nholder` scored by expiry (epoch ms): a room's presence. */
    presencePrefix: (pool: string) => `${PREFIX}presence:${tag(pool)}:`,
    presence: (pool: string, room: string) => `${PREFIX}presence:${tag(pool)}:${room}`,
    /** String: the cluster's key for HTTP presence leave tokens (random, created by the first instance that needs it). */
    presenceKey: `${PREFIX}presence-key`,
    /** Hash user → presence entries, per node of a shared pool: HLEN is the node's distinct users. */
    nodeUsersPrefix: (pool: string) => `${PREFIX}nusers:${tag(pool)}:`,
    /** Sorted set room → when the cleaner must look at it next (epoch ms). */
    due: (pool: string) => `${PREFIX}due:${tag(pool)}`,
    /** Hash node → rooms assigned to it. */
    nodeRooms: (pool: string) => `${PREFIX}nrooms:${tag(pool)}`,
    /** Hash: one cache job's record (see jobs/store-redis.ts). */
    job: (id: string) => `${PREFIX}job${jobs}:${id}`,
    /** List of `size\trel`: a job's files, in order. */
    jobFiles: (id: string) => `${PREFIX}job${jobs}:${id}:files`,
    /** Bitmap: bit i set when file i has a result. */
    jobDone: (id: string) => `${PREFIX}job${jobs}:${id}:done`,
    /** Sorted set id → created (epoch ms): every job, for listings. */
    jobs: `${PREFIX}jobs${jobs}`,
    /** Sorted set id → when it may be claimed (pending: created; running: lease end). */
    jobQueue: `${PREFIX}jobs${jobs}:queue`,
    /** Hash {version, fetchedAt}: a status source's last answer (see status/cache-lua.ts). The slug is a hash tag: its keys share a slot. */
    status: (slug: string) => `${PREFIX}status:{${slug}}`,
    /** Hash unit → standard status: the statuses of that answer. */
    statusUnits: (slug: string) => `${PREFIX}status:{${slug}}:units`,
    /** List of `version\nJSON changes`, newest first: the last versions' changes. */
    statusLog: (slug: string) => `${PREFIX}status:{${slug}}:log`,
    /** List of a stream's last event frames, newest first (see realtime/history/redis-lua.ts). */
    historyFrames: (stream: string) => `${PREFIX}hist:${hist(stream)}`,
    /** Hash {epoch, top}: the stream's epoch and last offset. */
    historyMeta: (stream: string) => `${PREFIX}hist:${hist(stream)}:meta`,
    /** A broadcast's idempotency key, for 5 minutes. */
    broadcastKey: (key: string) => `${PREFIX}bc:key:${key}`,
    /** A background loop's leader: the holder's instance id, with a TTL. */
    lease: (name: string) => `${PREFIX}lease:${name}`,
  }
}

export type RedisKeys = ReturnType<typeof keyLayout>

export const channels = {
  /** Cluster broadcasts (see realtime/broadcast.ts): header, stream positions, frame. */
  broadcast: `${PREFIX}bcast`,
  /** On a Redis Cluster: the sharded channel of a group of streams, in the group's slot. */
  broadcastGroup: (group: number) => `${PREFIX}bcast:{bc${group}}`,
  /**
   * The two-line broadcasts (header, frame) of instances from before stream
   * history: still delivered, so a rolling upgrade loses nothing they send.
   */
  legacyBroadcast: `${PREFIX}bc`,
  /** Delivery counts sent back to the instance that asked for a broadcast. */
  broadcastAck: (instanceId: string) => `${PREFIX}bc:ack:${instanceId}`,
  /** Job events (progress, files, cancels, new jobs) and worker throughput. */
  jobs: `${PREFIX}jobs:ev`,
  /** A status source's changes, for the SSE subscribers of every instance. */
  status: (slug: string) => `${PREFIX}status:ev:${slug}`,
}
