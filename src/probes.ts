/**
 * Liveness and readiness. `/healthz` answers 200 while the process serves
 * (restarting it would not bring Redis back), with the running config's hash
 * and load time (a reload changes them); `/readyz` answers 503 while the
 * engine is unavailable or the instance is draining, so a load balancer can
 * stop sending it traffic. `/metrics` is on the client port unless an admin
 * listener (`admin.port`) takes it; the admin listener serves all three.
 */
import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import type { Engine } from './engine/types.js'
import { RoomgateError } from './errors.js'
import type { Registry } from './metrics/registry.js'
import { errors, Timestamp } from './openapi/schemas.js'
import type { ConfigInfo } from './reload.js'

const Health = Type.Object({
  status: Type.Literal('ok'),
  instance: Type.String(),
  engine: Type.Enum(['memory', 'redis']),
  engineState: Type.String({ description: '`ready`, or why shared state is unavailable' }),
  config: Type.Object(
    {
      hash: Type.String({ description: 'The first 12 hex digits of the SHA-256 of its canonical JSON' }),
      loadedAt: { ...Timestamp, description: 'At start, or at the last reload applied' },
    },
    { description: 'The config running now' },
  ),
})
const PROMETHEUS = { description: 'Prometheus text format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } }

export { PROMETHEUS }

export interface ProbeDeps {
  engine: Engine
  registry: Registry
  isClosing: () => boolean
  /** The running config's hash and load time. */
  config: () => ConfigInfo
  /** Serve `/metrics` here (false on the client port when an admin listener has it). */
  metrics: boolean
}

export function registerProbes(app: FastifyInstance, { engine, registry, isClosing, config, metrics }: ProbeDeps): void {
  app.get('/healthz', { schema: { tags: ['probes'], summary: 'Liveness: 200 while the process serves', response: { 200: Health } } }, async () => ({
    status: 'ok',
    instance: engine.instanceId,
    engine: engine.kind,
    engineState: engine.state(),
    config: config(),
  }))

  const ready = {
    tags: ['probes'],
    summary: 'Readiness: 503 while the engine is unavailable or the instance drains',
    response: { 200: Type.Object({ status: Type.Literal('ready') }), ...errors('engine_unavailable', 'shutting_down') },
  }
  app.get('/readyz', { schema: ready }, async () => {
    if (isClosing()) throw new RoomgateError('shutting_down')
    if (engine.state() !== 'ready') throw new RoomgateError('engine_unavailable')
    return { status: 'ready' }
  })

  if (!metrics) return
  app.get('/metrics', { schema: { tags: ['probes'], summary: 'Prometheus metrics', response: { 200: PROMETHEUS } } }, async (_request, reply) => {
    void reply.type('text/plain; version=0.0.4; charset=utf-8')
    return registry.exposition()
  })
}
