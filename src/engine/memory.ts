import { MemoryJobStore } from '../jobs/store-memory.js'
import { MemoryStatusCache } from '../status/cache-memory.js'
import { MemoryRateLimitStore } from '../ratelimit/memory-store.js'
import { MemoryExclusiveStore } from '../rooms/exclusive-memory.js'
import { MemorySharedStore } from '../rooms/shared-memory.js'
import { MemoryLeases } from './leases.js'
import { MemoryBus } from './memory-bus.js'
import { newInstanceId } from './instance-id.js'
import type { Logger } from '../log.js'
import { MemoryStreams } from '../realtime/history/memory.js'
import type { Engine } from './types.js'

/** The embedded default: one process, nothing to install, nothing durable. */
export function createMemoryEngine(log: Logger): Engine {
  const bus = new MemoryBus((err, channel) => log.error({ err, channel }, 'bus handler failed'))
  return {
    kind: 'memory',
    instanceId: newInstanceId(),
    bus,
    streams: new MemoryStreams(bus),
    rateLimits: new MemoryRateLimitStore(),
    leases: new MemoryLeases(),
    rooms: { exclusive: new MemoryExclusiveStore(), shared: new MemorySharedStore() },
    jobs: new MemoryJobStore(),
    statusCache: new MemoryStatusCache(),
    state: () => 'ready',
    close: () => Promise.resolve(),
  }
}
