/**
 * The job progress display. `formatProgress` is pure (a snapshot in, one line
 * out) so it is tested alone; `ProgressView` decides when and how to write:
 * on a TTY one line redrawn in place with `\r` (bar, files, bytes,
 * throughput, ETA); elsewhere (a pipe, a CI log) a plain line per update, at
 * most one per second, plus every change of state and the last one.
 */
import type { JobView } from '../jobs/view.js'
import { filesWord, printable, readableSize } from './format.js'

export interface ProgressSnapshot {
  status: string
  /** Files with a result (completed or failed). */
  filesDone: number
  filesFailed: number
  filesTotal: number
  bytesDone: number
  bytesTotal: number
  /** Read rate in bytes per second, or null when unknown. */
  bps: number | null
}

export const BAR_WIDTH = 24
/** Plain (non-TTY) lines are written at most this often. */
export const PLAIN_INTERVAL_MS = 1_000
/** The local rate estimate looks back this far. */
const RATE_WINDOW_MS = 5_000
const MIB = 1024 * 1024

/** Done over total as a fraction in [0, 1]; bytes decide, files when there are no bytes. */
export function fractionDone(s: ProgressSnapshot): number {
  const f = s.bytesTotal > 0 ? s.bytesDone / s.bytesTotal : s.filesTotal > 0 ? s.filesDone / s.filesTotal : 1
  return Math.min(1, Math.max(0, f))
}

export function progressBar(fraction: number, width = BAR_WIDTH): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width)
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`
}

/** `125.5 MB/s`, `512.0 KB/s`, or `-` when unknown. */
export function formatRate(bps: number | null): string {
  if (bps === null || !Number.isFinite(bps) || bps < 0) return '-'
  return `${readableSize(Math.round(bps))}/s`
}

/** `42s`, `3m05s`, `1h02m`, or `--` when unknown. */
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return '--'
  const s = Math.ceil(seconds)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  const h = Math.floor(s / 3600)
  return `${h}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

export function etaSeconds(s: ProgressSnapshot): number | null {
  if (s.status !== 'running' || s.bps === null || s.bps <= 0) return null
  return Math.max(0, s.bytesTotal - s.bytesDone) / s.bps
}

/** How much of the line to show; `fitProgress` gives up the later fields first. */
interface Shape {
  /** Inner width of the bar; 0 = no bar. */
  bar: number
  bytes: boolean
  padStatus: boolean
  filesWord: boolean
  failed: boolean
  rate: boolean
  eta: boolean
}

const FULL: Shape = { bar: 0, bytes: true, padStatus: true, filesWord: true, failed: true, rate: true, eta: true }
/** Below this the bar says too little to be worth its columns. */
const MIN_BAR_WIDTH = 8
/** From this width on, throughput and ETA are always shown. */
export const RATE_ETA_MIN_COLUMNS = 60

function render(s: ProgressSnapshot, shape: Shape): string {
  const pct = `${(Math.floor(fractionDone(s) * 1000) / 10).toFixed(1)}%`
  const failed = shape.failed && s.filesFailed > 0 ? ` (${s.filesFailed} failed)` : ''
  const word = shape.filesWord ? ` ${filesWord(s.filesTotal)}` : ''
  const parts = [
    shape.padStatus ? s.status.padEnd(9) : s.status,
    ...(shape.bar > 0 ? [progressBar(fractionDone(s), shape.bar)] : []),
    pct.padStart(6),
    `${s.filesDone}/${s.filesTotal}${word}${failed}`,
    ...(shape.bytes ? [`${readableSize(s.bytesDone)} / ${readableSize(s.bytesTotal)}`] : []),
  ]
  if (s.status === 'running') {
    if (shape.rate) parts.push(formatRate(s.bps))
    if (shape.eta) parts.push(`ETA ${formatEta(etaSeconds(s))}`)
  }
  return parts.join('  ')
}

/**
 * One line: `[######------]  45.2%  12/30 files  1.2 MB / 3.4 MB  125.5 MB/s  ETA 18s`,
 * prefixed by the status; without `bar` (plain output) the bar is left out.
 */
export function formatProgress(s: ProgressSnapshot, options: { bar?: boolean; width?: number } = {}): string {
  return render(s, { ...FULL, bar: options.bar ? (options.width ?? BAR_WIDTH) : 0 })
}

/**
 * The TTY line within `columns`: the bar shrinks, then goes; then the bytes,
 * the status padding, the word "files" and the failed count. Throughput and
 * ETA say the most about a running job, so they go last, and only below
 * RATE_ETA_MIN_COLUMNS; what still does not fit is cut.
 */
export function fitProgress(s: ProgressSnapshot, columns: number): string {
  const bare = render(s, FULL)
  // The bar and its separator take bar + 4 columns.
  const bar = Math.min(BAR_WIDTH, columns - bare.length - 4)
  if (bar >= MIN_BAR_WIDTH) return render(s, { ...FULL, bar })
  const steps: Array<Partial<Shape>> = [{}, { bytes: false }, { padStatus: false }, { filesWord: false }, { failed: false }]
  if (columns < RATE_ETA_MIN_COLUMNS) steps.push({ eta: false }, { rate: false })
  let shape = FULL
  let line = bare
  for (const step of steps) {
    shape = { ...shape, ...step }
    line = render(s, shape)
    if (line.length <= columns) return line
  }
  return line.slice(0, columns)
}

/** The server's figures, with a local rate estimate when the server shows none. */
export function snapshotOf(job: JobView, localBps: number | null = null): ProgressSnapshot {
  const { files, size } = job.progress
  return {
    status: job.status,
    filesDone: files.completed + files.failed,
    filesFailed: files.failed,
    filesTotal: files.total,
    bytesDone: size.completedBytes,
    bytesTotal: size.totalBytes,
    bps: job.throughput ? job.throughput.mbps * MIB : localBps,
  }
}

/** Bytes per second over the last few seconds of samples. */
export class RateMeter {
  private readonly samples: Array<{ at: number; bytes: number }> = []

  add(bytes: number, at: number): void {
    this.samples.push({ at, bytes })
    while (this.samples.length > 2 && at - this.samples[0]!.at > RATE_WINDOW_MS) this.samples.shift()
  }

  bps(): number | null {
    const first = this.samples[0]
    const last = this.samples[this.samples.length - 1]
    if (!first || !last || last.at - first.at < 250) return null
    return ((last.bytes - first.bytes) * 1000) / (last.at - first.at)
  }
}

export interface Terminal {
  isTTY: boolean
  columns: number | undefined
  write(text: string): void
}

export const stdoutTerminal = (): Terminal => ({
  isTTY: process.stdout.isTTY === true,
  // Read at each update, so a resized window is followed.
  get columns() {
    return process.stdout.columns
  },
  write: (text) => void process.stdout.write(text),
})

export class ProgressView {
  private readonly rate = new RateMeter()
  private lastPlainAt = -Infinity
  private lastStatus: string | undefined
  private pending: string | undefined
  /** The line drawn in place (TTY), which a note must clear and draw again. */
  private drawn: string | undefined

  constructor(
    private readonly term: Terminal,
    private readonly now: () => number = Date.now,
  ) {}

  update(job: JobView): void {
    const now = this.now()
    this.rate.add(job.progress.size.completedBytes, now)
    const snapshot = snapshotOf(job, this.rate.bps())
    const changed = snapshot.status !== this.lastStatus
    this.lastStatus = snapshot.status
    if (this.term.isTTY) {
      // One column short of the width: a line that fills it makes some terminals wrap.
      const line = fitProgress(snapshot, Math.max(20, (this.term.columns || 80) - 1))
      this.term.write(`\r${line}\x1b[K`)
      this.drawn = line
      return
    }
    const line = formatProgress(snapshot)
    if (changed || now - this.lastPlainAt >= PLAIN_INTERVAL_MS) {
      this.term.write(`${line}\n`)
      this.lastPlainAt = now
      this.pending = undefined
    } else {
      this.pending = line
    }
  }

  /** A message between progress lines (a failed file): written above the bar. */
  note(raw: string): void {
    const text = printable(raw)
    if (this.drawn === undefined) return this.term.write(`${text}\n`)
    this.term.write(`\r\x1b[K${text}\n${this.drawn}`)
  }

  /** Ends the display: the last state is on screen, the cursor on a new line. */
  finish(): void {
    if (this.term.isTTY) {
      if (this.drawn !== undefined) this.term.write('\n')
      this.drawn = undefined
      return
    }
    if (this.pending !== undefined) this.term.write(`${this.pending}\n`)
    this.pending = undefined
  }
}
