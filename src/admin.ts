/**
 * The optional admin listener (`admin.port`, on `admin.host`, loopback by
 * default): `/metrics`, `/healthz` and `/readyz` on a port that is not the
 * clients', so Prometheus and the orchestrator reach them and the public does
 * not. Later admin routes belong here too (server.ts adds `POST /admin/reload`).
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { frameworkError, installErrorHandling } from './http-errors.js'
import type { Logger } from './log.js'
import { registerSchemas } from './openapi/index.js'
import { registerProbes, type ProbeDeps } from './probes.js'

export function buildAdmin(probes: Omit<ProbeDeps, 'metrics'>, log: Logger): FastifyInstance {
  const admin = Fastify({
    loggerInstance: log.child({ listener: 'admin' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
    frameworkErrors: frameworkError,
  })
  installErrorHandling(admin)
  registerSchemas(admin)
  registerProbes(admin, { ...probes, metrics: true })
  return admin
}
