/**
 * Waits for jobs.root to be readable, then hands its real path on (to start
 * the worker). A mount that is not there yet, or lost, must not leave jobs
 * pending forever: the instance tries again every `retryMs` until it can
 * resolve the root. The realpath runs in the fs lane, under its deadline, so a
 * mount that hangs at start is a failed attempt like a missing one, never a
 * start that hangs, and the stuck call counts against the lane like any other.
 */
import type { Logger } from '../log.js'
import type { FsLane } from './fs-lane.js'

/** How often an instance tries again to read a jobs.root it could not read. */
export const ROOT_RETRY_MS = 5_000

export interface RootWatchOptions {
  /** jobs.root as configured. */
  root: string
  lane: FsLane
  log: Logger
  /** Called once, with the real path of the root. */
  ready: (realRoot: string) => void
  /** @defaultValue ROOT_RETRY_MS */
  retryMs?: number
}

export class RootWatch {
  private retry: NodeJS.Timeout | undefined
  private closed = false

  constructor(private readonly o: RootWatchOptions) {}

  /** Resolves after the first attempt, whether it succeeded or not. */
  start(): Promise<void> {
    return this.attempt()
  }

  close(): void {
    this.closed = true
    clearTimeout(this.retry)
  }

  private async attempt(): Promise<void> {
    const { root, log } = this.o
    const retryMs = this.o.retryMs ?? ROOT_RETRY_MS
    if (this.closed) return
    try {
      const real = await this.o.lane.realpath(root, 'resolving jobs.root')
      if (this.closed) return
      this.o.ready(real)
      if (this.retry !== undefined) log.info({ root }, 'jobs.root is readable again: this instance runs cache jobs')
    } catch (err) {
      if (this.retry === undefined) {
        log.error({ root, err: (err as Error).message }, `jobs.root cannot be read: retrying every ${retryMs / 1000} s`)
      }
      this.retry = setTimeout(() => void this.attempt(), retryMs)
      this.retry.unref()
    }
  }
}
