/** `roomgate demo` (npm start): the demo config, the demo services, and a few lines to try. */
import { createServer, type Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import type { Config } from '../config/schema.js'
import type { Logger } from '../log.js'
import { fillTemplate } from '../rooms/node-control.js'
import { ConfigError, loadConfig } from '../config/load.js'
import { loggerOf } from '../log.js'
import { startRoomgate } from '../roomgate.js'
import { SHUTDOWN_MARGIN_MS, untilSignal } from '../signals.js'
import { DEMO_SERVICES_PORT, startDemoServices } from './services.js'
import { configListeners, failedToStart } from '../cli/listen-error.js'

export const DEMO_CONFIG = fileURLToPath(new URL('../../config/demo.yaml', import.meta.url))

/** Listens the demo server on each legacy node address too; best effort (a taken address is logged, not fatal). */
async function listenRecorders(services: Server, config: Config, log: Logger): Promise<Server[]> {
  const pool = config.rooms.legacyPool === undefined ? undefined : config.rooms.pools[config.rooms.legacyPool]
  if (!pool?.progressUrl) return []
  const servers: Server[] = []
  for (const node of pool.nodes) {
    const url = new URL(fillTemplate(pool.progressUrl, node, 'x'))
    const server = createServer((req, res) => services.emit('request', req, res))
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(Number(url.port) || 80, url.hostname, () => resolve())
      })
      servers.push(server)
    } catch (err) {
      log.warn({ node, err: (err as Error).message }, 'demo recorder could not listen')
    }
  }
  return servers
}

export async function startDemo(): Promise<number> {
  let config
  try {
    config = loadConfig({ file: DEMO_CONFIG })
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`roomgate: config error: ${err.message}\n`)
      return 2
    }
    throw err
  }
  const log = loggerOf(config)
  // The demo backend first, so roomgate's first health checks and status polls find it listening.
  // It serves all three services on the lobby URL's port (8091 unless LOBBY_URL moves it).
  const servicesPort = Number(new URL(config.services.lobby!.url).port) || DEMO_SERVICES_PORT
  let roomgateUrl = ''
  let services
  try {
    services = await startDemoServices({ port: servicesPort, roomgateUrl: () => roomgateUrl, internalToken: config.auth.internalToken })
  } catch (err) {
    const fix = 'set LOBBY_URL, MEASUREMENT_URL and SIMULATION_URL to another port (the demo services)'
    return failedToStart(err, [{ port: servicesPort, fix }], log)
  }
  // The demo recorders: the same server, on the addresses the legacy pool names.
  const extra = await listenRecorders(services, config, log)
  const closeServices = async () => {
    for (const s of [services, ...extra]) await new Promise((resolve) => s.close(resolve))
  }
  let instance
  try {
    instance = await startRoomgate(config, { logger: log, load: () => loadConfig({ file: DEMO_CONFIG }) })
  } catch (err) {
    await closeServices()
    return failedToStart(err, configListeners(config), log)
  }
  roomgateUrl = instance.url
  const ws = instance.url.replace(/^http/, 'ws')
  log.info(
    {
      try: [
        `websocat '${ws}/ws?device_id=phone-1'   then send {"event":"lobby.create","request_id":"1","data":{}}`,
        `curl ${instance.url}/v1/measurement/results?id=7`,
        `curl -X POST ${instance.url}/internal/broadcast -H 'X-Internal-Token: ${config.auth.internalToken}' -H 'Content-Type: application/json' -d '{"event":"hello","data":{},"targets":{"all":true}}'`,
        `curl -X POST '${instance.url}/start?room=math101' -H 'Authorization: Bearer demo-token'`,
        `curl '${instance.url}/status' -H 'Authorization: Bearer demo-token'`,
        `curl -X POST ${instance.url}/v2/room_server -H 'Content-Type: application/json' -d '{"room": 2171}'`,
        `curl ${instance.url}/rooms`,
        `curl -O ${instance.url}/assets/assets.tar.xz`,
        `curl -X POST ${instance.url}/api/v1/cache/jobs -H 'X-API-Key: demo-api-key-2024' -H 'Content-Type: application/json' -d '{"directories": ["00_Media/Farm/ProRes422"]}'`,
        `curl ${instance.url}/api/v1/cache/jobs -H 'X-API-Key: demo-api-key-2024'`,
        `curl ${instance.url}/api/v1/metrics/s3`,
        `curl -N ${instance.url}/api/public/demo/status/stream`,
        `websocat ${ws}/ws   (a dashboard: metrics, s3-health and lucidlink-stats pushes)`,
        `curl ${instance.url}/metrics`,
      ],
    },
    'demo ready',
  )
  const code = await untilSignal(
    {
      close: async () => {
        await instance.close()
        await closeServices()
      },
      reload: () => instance.reload(),
    },
    log,
    config.shutdown.drainTimeoutMs + SHUTDOWN_MARGIN_MS,
  )
  return code
}
