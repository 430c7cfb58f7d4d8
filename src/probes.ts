/**
 * Liveness and readiness. `/healthz` answers 200 while the process serves
 * (restarting it would not bring Redis back); `/readyz` answers 503 while the
 * engine is unavailable or the instance is draining, so a load balancer can
 * stop sending it traffic.
 */
import type { FastifyInstance } from 'fastify'
import type { Engine } from './engine/types.js'
import { RoomgateError } from './errors.js'
import type { Registry } from './metrics/registry.js'

export function registerProbes(app: FastifyInstance, engine: Engine, registry: Registry, isClosing: () => boolean): void {
  app.get('/healthz', async () => ({
    status: 'ok',
    instance: engine.instanceId,
    engine: engine.kind,
    engineState: engine.state(),
  }))

  app.get('/readyz', async () => {
    if (isClosing()) throw new RoomgateError('shutting_down')
    if (engine.state() !== 'ready') throw new RoomgateError('engine_unavailable')
    return { status: 'ready' }
  })

  app.get('/metrics', async (_request, reply) => {
    void reply.type('text/plain; version=0.0.4; charset=utf-8')
    return registry.render()
  })
}
