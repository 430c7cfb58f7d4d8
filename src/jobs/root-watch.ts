/**
 * Watches jobs.root: hands its real path on once it can be read (to start the
 * worker), then keeps looking every `retryMs` so `/api/v1/health` and job
 * creation can say when it is lost. A mount that is not there yet, or lost,
 * must not leave jobs pending forever: the instance tries again until it can
 * resolve the root. The realpath runs in the fs lane, under its deadline, so a
 * mount that hangs is a failed attempt like a missing one, never a start that
 * hangs, and the stuck call counts against the lane like any other.
 */
import type { Logger } from '../log.js'
import type { FsLane } from './fs-lane.js'

/** How often an instance looks at its jobs.root. */
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

/** What the last look at the root found: readable, or why not (`null` before the first look ends). */
export type RootState = { readable: true } | { readable: false; error: string } | null

export class RootWatch {
  private timer: NodeJS.Timeout | undefined
  private closed = false
  private started = false
  private last: RootState = null

  constructor(private readonly o: RootWatchOptions) {}

  /** Resolves after the first attempt, whether it succeeded or not. */
  start(): Promise<void> {
    return this.attempt()
  }

  state(): RootState {
    return this.last
  }

  close(): void {
    this.closed = true
    clearTimeout(this.timer)
  }

  private async attempt(): Promise<void> {
    const { root, log } = this.o
    const retryMs = this.o.retryMs ?? ROOT_RETRY_MS
    if (this.closed) return
    const was = this.last
    try {
      const real = await this.o.lane.realpath(root, 'resolving jobs.root')
      if (this.closed) return
      this.last = { readable: true }
      if (!this.started) {
        this.started = true
        this.o.ready(real)
      }
      if (was !== null && !was.readable) log.info({ root }, 'jobs.root is readable again: this instance runs cache jobs')
    } catch (err) {
      if (this.closed) return
      const error = rootError(err)
      this.last = { readable: false, error }
      if (was === null || was.readable) {
        log.error({ root, err: error }, `jobs.root cannot be read: new cache jobs are refused, trying again every ${retryMs / 1000} s`)
      }
    }
    this.timer = setTimeout(() => void this.attempt(), retryMs)
    this.timer.unref()
  }
}

/** Why a path cannot be read, in words (`no such file or directory`), from a Node fs error or a stalled call. */
export function rootError(err: unknown): string {
  const e = err as NodeJS.ErrnoException
  // "ENOENT: no such file or directory, realpath '/x'" → "no such file or directory"
  const m = /^[A-Z]+: ([^,]+)/.exec(e.message ?? '')
  return m ? m[1]! : String(e.message ?? err)
}
