/**
 * Process lifecycle: a config reload on SIGHUP, graceful shutdown on
 * SIGTERM/SIGINT, immediate exit on a second signal, and a crash (uncaught
 * exception or rejection) turned into a logged, drained, non-zero exit so a
 * supervisor restarts the process.
 */
import type { Logger } from './log.js'

/** Time allowed past the drain timeout for loops, pools and Redis to close. */
export const SHUTDOWN_MARGIN_MS = 5_000

/**
 * Resolves with the exit code once the instance has shut down after a signal
 * or a crash. If the shutdown itself hangs for longer than `graceMs`, it gives
 * up and resolves 1: a process that cannot stop must not linger.
 */
export function untilSignal(instance: { close(): Promise<void>; reload(): Promise<unknown> }, log: Logger, graceMs: number): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false
    let code = 0
    const stop = (reason: string) => {
      if (stopping) {
        log.warn({ reason }, 'second signal: exiting now')
        resolve(1)
        return
      }
      stopping = true
      log.info({ reason }, 'stopping')
      setTimeout(() => {
        log.error({ graceMs }, 'shutdown did not finish in time: exiting')
        resolve(1)
      }, graceMs).unref()
      instance.close().then(
        () => resolve(code),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed')
          resolve(1)
        },
      )
    }
    process.on('SIGTERM', () => stop('SIGTERM'))
    process.on('SIGINT', () => stop('SIGINT'))
    // The reload logs its own outcome; a config that will not load is not a crash.
    process.on('SIGHUP', () => {
      if (stopping) return
      log.info('SIGHUP: reloading the config')
      instance.reload().catch((err: unknown) => log.error({ err }, 'config reload failed'))
    })
    // A bug, not a client: log it, drain what we can, exit non-zero so a supervisor restarts us.
    const crash = (err: unknown, kind: string) => {
      log.fatal({ err }, kind)
      code = 1
      if (!stopping) stop(kind)
    }
    process.on('uncaughtException', (err) => crash(err, 'uncaughtException'))
    process.on('unhandledRejection', (err) => crash(err, 'unhandledRejection'))
  })
}
