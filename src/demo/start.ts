/** `roomgate demo` (npm start): the demo config, the demo services, and a few lines to try. */
import { fileURLToPath } from 'node:url'
import { ConfigError, loadConfig } from '../config/load.js'
import { createLogger } from '../log.js'
import { startRoomgate } from '../roomgate.js'
import { SHUTDOWN_MARGIN_MS, untilSignal } from '../signals.js'
import { DEMO_SERVICES_PORT, startDemoServices } from './services.js'

export const DEMO_CONFIG = fileURLToPath(new URL('../../config/demo.yaml', import.meta.url))

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
  const log = createLogger(config.logLevel)
  const instance = await startRoomgate(config, { logger: log })
  // The demo backend serves all three services on the lobby URL's port (8091 unless LOBBY_URL moves it).
  const services = await startDemoServices({
    port: Number(new URL(config.services.lobby!.url).port) || DEMO_SERVICES_PORT,
    roomgateUrl: instance.url,
    internalToken: config.auth.internalToken,
  })
  const ws = instance.url.replace(/^http/, 'ws')
  log.info(
    {
      try: [
        `websocat '${ws}/ws?device_id=phone-1'   then send {"event":"lobby.create","request_id":"1","data":{}}`,
        `curl ${instance.url}/v1/measurement/results?id=7`,
        `curl -X POST ${instance.url}/internal/broadcast -H 'X-Internal-Token: ${config.auth.internalToken}' -H 'Content-Type: application/json' -d '{"event":"hello","data":{},"targets":{"all":true}}'`,
        `curl ${instance.url}/metrics`,
      ],
    },
    'demo ready',
  )
  const code = await untilSignal(
    {
      close: async () => {
        await instance.close()
        await new Promise((resolve) => services.close(resolve))
      },
    },
    log,
    config.shutdown.drainTimeoutMs + SHUTDOWN_MARGIN_MS,
  )
  return code
}
