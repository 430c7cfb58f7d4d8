/**
 * The `roomgate` command. `start --config FILE`: load the config (file, then
 * env), start, reload it on SIGHUP, and shut down gracefully on SIGTERM/SIGINT
 * (a second signal exits at once). `demo` (npm start) also starts small demo services to route
 * to. The other commands talk to a running roomgate (src/cli/): cache jobs,
 * rooms, public statuses, and `config check` to validate a file offline.
 * Exit codes: see EXIT in src/cli/exit.ts (0 ok, 1 failed, 2 bad usage or
 * config, 3 unreachable, 4 unauthorized, 5 not found, 130 watch interrupted).
 */
import { ConfigError, loadConfig } from './config/load.js'
import { CliError, EXIT, UsageError } from './cli/exit.js'
import { VERSION } from './version.js'
import { DEFAULT_TIMEOUT_SECONDS, DEFAULT_URL, onlyOptions, parseCommandLine, type Values } from './cli/options.js'
import { didYouMean } from './config/suggest.js'

const USAGE = `Usage: roomgate <command> [options]

Commands:
  start [--config FILE]            Run roomgate. Environment variables override the file.
                                   SIGHUP reads them again and applies what can change live.
  demo                             Run roomgate with the demo config and demo services (npm start).
  config check FILE                Validate a config file (env overrides apply) and summarize it.
  reload                           Have a running roomgate read its config file and env again and
                                   apply what can change live (as SIGHUP; needs --token).

  jobs submit PATH... [--dir] [--watch]
                                   Create a cache job from server paths (under its jobs.root);
                                   --dir: the PATHs are folders; --watch: show progress to the end.
  jobs list [--status S] [--limit N]
                                   Newest jobs first (S: pending running completed failed cancelled).
  jobs get ID [--watch]            One job's progress (--watch: follow it to the end).
  jobs cancel ID                   Cancel a pending or running job.
  rooms list                       Rooms with their pool, node and users (--token adds seed 000's
                                   gateway mappings from GET /status).
  status SLUG [--follow]           A project's public unit statuses; --follow prints each change
                                   until Ctrl-C, reconnecting when the stream drops.

Options:
  -c, --config FILE       YAML or JSON config file (start)
  --url URL               roomgate to talk to (env ROOMGATE_URL; default ${DEFAULT_URL})
  --key KEY               API key for the jobs API, sent as X-API-Key (env ROOMGATE_API_KEY)
  --token TOKEN           Bearer token for rooms and reload (env ROOMGATE_TOKEN)
  --timeout SECONDS       Per-request deadline (default ${DEFAULT_TIMEOUT_SECONDS})
  --json                  Machine-readable output only: one JSON object (one per line with
                          --watch and --follow)
  -h, --help              Show this help
  -v, --version           Show the version

Exit codes:
  0 ok   1 failed (job failed/cancelled under --watch, server error)   2 bad usage or config
                                                                       (reload: the server refused it)
  3 server unreachable   4 key or token refused (401/403)   5 not found (404)
  130 --watch stopped by Ctrl-C (the job goes on)
`

export async function main(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseCommandLine(argv)
  } catch (err) {
    if (!(err instanceof CliError)) throw err
    return report(err)
  }
  const { values, positionals } = parsed
  if (values.version) {
    console.log(VERSION)
    return EXIT.ok
  }
  const [command, sub, ...rest] = positionals
  if (values.help || command === undefined || command === 'help') {
    console.log(USAGE)
    return command === undefined && !values.help ? EXIT.usage : EXIT.ok
  }
  try {
    return await run(command, sub, rest, positionals.slice(1), values)
  } catch (err) {
    if (err instanceof CliError) return report(err)
    if (command === 'start' || command === 'demo') throw err
    // A client command choked on an answer it did not expect: something that is not roomgate at --url, or another version.
    console.error(`roomgate: unexpected answer from the server (is it a roomgate?): ${(err as Error).message}`)
    return EXIT.failed
  }
}

/** Prints a CLI error (usage errors with a pointer to --help) and gives its exit code. */
function report(err: CliError): number {
  console.error(`roomgate: ${err.message}${err instanceof UsageError ? '\nRun `roomgate --help` for usage.' : ''}`)
  return err.exitCode
}

const COMMANDS = ['start', 'demo', 'config', 'reload', 'jobs', 'rooms', 'status', 'help']

async function run(command: string, sub: string | undefined, rest: string[], args: string[], values: Values): Promise<number> {
  switch (command) {
    case 'start':
      onlyOptions(values, 'start', ['config'])
      return start(values.config)
    case 'demo': {
      onlyOptions(values, 'demo', [])
      const { startDemo } = await import('./demo/start.js')
      return startDemo()
    }
    case 'jobs':
      return (await import('./cli/jobs.js')).jobsCommand(sub, rest, values)
    case 'rooms':
      return (await import('./cli/rooms.js')).roomsCommand(sub, rest, values)
    case 'status':
      return (await import('./cli/status.js')).statusCommand(args, values)
    case 'config':
      return (await import('./cli/config-check.js')).configCommand(sub, rest, values)
    case 'reload':
      return (await import('./cli/reload.js')).reloadCommand(args, values)
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}${didYouMean(command, COMMANDS)}`)
  }
}

async function start(file: string | undefined): Promise<number> {
  let config
  try {
    config = loadConfig({ file })
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`roomgate: config error: ${err.message}`)
      return EXIT.usage
    }
    throw err
  }
  // Loaded here, not at the top: the client commands should not pay for the server's modules.
  const [{ startRoomgate }, { loggerOf }, { SHUTDOWN_MARGIN_MS, untilSignal }, { configListeners, failedToStart }] = await Promise.all([
    import('./roomgate.js'),
    import('./log.js'),
    import('./signals.js'),
    import('./cli/listen-error.js'),
  ])
  const log = loggerOf(config)
  let instance
  try {
    instance = await startRoomgate(config, { logger: log, load: () => loadConfig({ file }) })
  } catch (err) {
    return failedToStart(err, configListeners(config), log)
  }
  return untilSignal(instance, log, config.shutdown.drainTimeoutMs + SHUTDOWN_MARGIN_MS)
}
