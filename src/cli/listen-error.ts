/**
 * A listener that cannot start is the user's to fix, not a bug: one line that
 * names the port and the settings that move it (`port 8080 is in use: set PORT
 * or port`) instead of a stack. `start` and `demo` share it.
 */
import type { Config } from '../config/schema.js'
import type { Logger } from '../log.js'
import { EXIT } from './exit.js'

/** A port roomgate listens on, and what to write to move it. */
export interface Listener {
  port: number | undefined
  fix: string
}

/** The client and admin listeners of a config. */
export const configListeners = (config: Readonly<Config>): Listener[] => [
  { port: config.port, fix: 'set PORT or port' },
  { port: config.admin.port, fix: 'set ADMIN_PORT or admin.port' },
]

const REASONS: Record<string, string> = { EADDRINUSE: 'is in use', EACCES: 'needs more privileges than this process has' }

/** The one line for a listen error on one of `listeners`, or undefined for any other error. */
export function listenProblem(err: unknown, listeners: readonly Listener[]): string | undefined {
  const e = err as { code?: unknown; syscall?: unknown; port?: unknown }
  const reason = typeof e?.code === 'string' ? REASONS[e.code] : undefined
  if (e?.syscall !== 'listen' || reason === undefined || typeof e.port !== 'number') return undefined
  const listener = listeners.find((l) => l.port === e.port)
  return `port ${e.port} ${reason}${listener ? `: ${listener.fix}` : ''}`
}

/** Reports a failed start: a listen problem as one line on stderr, anything else logged with its stack. Exit 1 either way. */
export function failedToStart(err: unknown, listeners: readonly Listener[], log: Logger): number {
  const problem = listenProblem(err, listeners)
  if (problem === undefined) log.fatal({ err }, 'roomgate failed to start')
  else process.stderr.write(`roomgate: ${problem}\n`)
  return EXIT.failed
}
