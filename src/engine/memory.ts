import { MemoryRateLimitStore } from '../ratelimit/memory-store.js'
import { MemoryBus } from './memory-bus.js'
import { newInstanceId } from './instance-id.js'
import type { Logger } from '../log.js'
import type { Engine } from './types.js'

/** The embedded default: one process, nothing to install, nothing durable. */
export function createMemoryEngine(log: Logger): Engine {
  return {
    kind: 'memory',
    instanceId: newInstanceId(),
    bus: new MemoryBus((err, channel) => log.error({ err, channel }, 'bus handler failed')),
    rateLimits: new MemoryRateLimitStore(),
    state: () => 'ready',
    close: () => Promise.resolve(),
  }
}
