/**
 * Every Redis key and pub/sub channel roomgate uses. All live under `rg:`,
 * except seed 000's `room:{name}` mapping. Pool names hold no `:`, so the
 * prefixes below never overlap.
 */
export const PREFIX = 'rg:'

/** Seed 000's mapping keys, readable with `redis-cli GET room:math101`. Deliberately not under rg:. */
export const LEGACY_ROOM_PREFIX = 'room:'

export const keys = {
  /** Token bucket hash {tokens, ts} for one limiter and one client. */
  rateLimit: (limiter: string, id: string) => `${PREFIX}rl:${limiter}:${id}`,
  /** Seed 000: `node|state|duration|progress`. */
  legacyRoom: (room: string) => `${LEGACY_ROOM_PREFIX}${room}`,
  /** Hash node → room: the nodes of an exclusive pool that are in use. */
  exclusiveNodes: (pool: string) => `${PREFIX}xnodes:${pool}`,
  /** Hash room → node: the assignments of a shared pool. */
  assignments: (pool: string) => `${PREFIX}assign:${pool}`,
  /** Hash room → last use, epoch ms (Redis clock). */
  lastUsed: (pool: string) => `${PREFIX}used:${pool}`,
  /** Sorted set of `user\nholder` scored by expiry (epoch ms): a room's presence. */
  presencePrefix: (pool: string) => `${PREFIX}presence:${pool}:`,
  presence: (pool: string, room: string) => `${PREFIX}presence:${pool}:${room}`,
  /** String: the cluster's key for HTTP presence leave tokens (random, created by the first instance that needs it). */
  presenceKey: `${PREFIX}presence-key`,
  /** Hash user → presence entries, per node of a shared pool: HLEN is the node's distinct users. */
  nodeUsersPrefix: (pool: string) => `${PREFIX}nusers:${pool}:`,
  /** Sorted set room → when the cleaner must look at it next (epoch ms). */
  due: (pool: string) => `${PREFIX}due:${pool}`,
  /** Hash node → rooms assigned to it. */
  nodeRooms: (pool: string) => `${PREFIX}nrooms:${pool}`,
  /** Hash: one cache job's record (see jobs/store-redis.ts). */
  job: (id: string) => `${PREFIX}job:${id}`,
  /** List of `size\trel`: a job's files, in order. */
  jobFiles: (id: string) => `${PREFIX}job:${id}:files`,
  /** Bitmap: bit i set when file i has a result. */
  jobDone: (id: string) => `${PREFIX}job:${id}:done`,
  /** Sorted set id → created (epoch ms): every job, for listings. */
  jobs: `${PREFIX}jobs`,
  /** Sorted set id → when it may be claimed (pending: created; running: lease end). */
  jobQueue: `${PREFIX}jobs:queue`,
  /** Hash {version, fetchedAt}: a status source's last answer (see status/cache-lua.ts). The slug is a hash tag: its keys share a slot. */
  status: (slug: string) => `${PREFIX}status:{${slug}}`,
  /** Hash unit → standard status: the statuses of that answer. */
  statusUnits: (slug: string) => `${PREFIX}status:{${slug}}:units`,
  /** List of `version\nJSON changes`, newest first: the last versions' changes. */
  statusLog: (slug: string) => `${PREFIX}status:{${slug}}:log`,
  /** List of a stream's last event frames, newest first (see realtime/history/redis-lua.ts). The stream is the hash tag. */
  historyFrames: (stream: string) => `${PREFIX}hist:{${stream}}`,
  /** Hash {epoch, top}: the stream's epoch and last offset. */
  historyMeta: (stream: string) => `${PREFIX}hist:{${stream}}:meta`,
  /** A broadcast's idempotency key, for 5 minutes. */
  broadcastKey: (key: string) => `${PREFIX}bc:key:${key}`,
  /** A background loop's leader: the holder's instance id, with a TTL. */
  lease: (name: string) => `${PREFIX}lease:${name}`,
}

export const channels = {
  /** Cluster broadcasts (see realtime/broadcast.ts): header, stream positions, frame. */
  broadcast: `${PREFIX}bcast`,
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
