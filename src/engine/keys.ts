/**
 * Every Redis key and pub/sub channel roomgate uses. All live under `rg:`,
 * except seed 000's `room:{name}` mapping (added with the rooms capability).
 */
export const PREFIX = 'rg:'

export const keys = {
  /** Token bucket hash {tokens, ts} for one limiter and one client. */
  rateLimit: (limiter: string, id: string) => `${PREFIX}rl:${limiter}:${id}`,
}

export const channels = {
  /** Cluster broadcast requests (see realtime/broadcast.ts). */
  broadcast: `${PREFIX}bc`,
  /** Delivery counts sent back to the instance that asked for a broadcast. */
  broadcastAck: (instanceId: string) => `${PREFIX}bc:ack:${instanceId}`,
}
