/**
 * `roomgate start --config FILE`: load the config (file, then env), start,
 * and shut down gracefully on SIGTERM/SIGINT (a second signal exits at once).
 * `roomgate demo` (npm start) also starts small demo services to route to.
 * Exit codes: 0 clean stop, 1 runtime failure, 2 bad usage or config.
 */
import { parseArgs } from 'node:util'
import { readFileSync } from 'node:fs'
import { ConfigError, loadConfig } from './config/load.js'
import { startRoomgate, type Roomgate } from './roomgate.js'
import { createLogger } from './log.js'
import { SHUTDOWN_MARGIN_MS, untilSignal } from './signals.js'

const USAGE = `Usage: roomgate <command> [options]

Commands:
  start [--config FILE]   Run roomgate. Environment variables override the file.
  demo                    Run roomgate with the demo config and demo services (npm start).

Options:
  -c, --config FILE       YAML or JSON config file
  -h, --help              Show this help
  -v, --version           Show the version
`

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

export async function main(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    })
  } catch (err) {
    console.error(`roomgate: ${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.version) {
    console.log(version())
    return 0
  }
  const command = positionals[0]
  if (values.help || command === undefined || command === 'help') {
    console.log(USAGE)
    return command === undefined && !values.help ? 2 : 0
  }
  if (command === 'start') return start(values.config)
  if (command === 'demo') {
    const { startDemo } = await import('./demo/start.js')
    return startDemo()
  }
  console.error(`roomgate: unknown command ${JSON.stringify(command)}\n\n${USAGE}`)
  return 2
}

async function start(file: string | undefined): Promise<number> {
  let config
  try {
    config = loadConfig({ file })
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`roomgate: config error: ${err.message}`)
      return 2
    }
    throw err
  }
  const log = createLogger(config.logLevel)
  let instance: Roomgate
  try {
    instance = await startRoomgate(config, { logger: log })
  } catch (err) {
    log.fatal({ err }, 'roomgate failed to start')
    return 1
  }
  return untilSignal(instance, log, config.shutdown.drainTimeoutMs + SHUTDOWN_MARGIN_MS)
}
