import { MemoryRateLimitStore } from '../ratelimit/memory-store.js'
import { MemoryBus } from './memory-bus.js'
import { newInstanceId } from './instance-id.js'
import type { Engine } from './types.js'

/** The embedded default: one process, nothing to install, nothing durable. */
export function createMemoryEngine(): Engine {
  return {
    kind: 'memory',
    instanceId: newInstanceId(),
    bus: new MemoryBus(),
    rateLimits: new MemoryRateLimitStore(),
    state: () => 'ready',
    close: () => Promise.resolve(),
  }
}
