/**
 * Server-Sent Events, written straight to the socket. A frame is encoded once
 * and written to every subscriber. Each stream is bounded like a WebSocket
 * client: when the bytes waiting in the socket pass `maxBufferedBytes`, the
 * reader is too slow and is cut off, so it can never grow the server's memory.
 */
import type { ServerResponse } from 'node:http'

/** Seed 004's SSEMessage.encode: `id`, `event`, then one `data:` line per line, then a blank line. */
export function sseFrame(event: string, data: unknown, id?: number): string {
  const lines: string[] = []
  if (id !== undefined) lines.push(`id: ${id}`)
  lines.push(`event: ${event}`)
  for (const line of JSON.stringify(data).split('\n')) lines.push(`data: ${line}`)
  return `${lines.join('\n')}\n\n`
}

/** The headers of seed 004's StreamingResponse (its test compares the content type exactly). */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
} as const

/** What a versioned update did to a stream: written, dropped as old, or a gap (the stream needs the whole snapshot). */
export type UpdateOutcome = 'written' | 'old' | 'gap'

/** Updates held for a stream that waits for its snapshot; past this it simply gets a fresh snapshot. */
const MAX_HELD = 100

export class SseStream {
  /** The version this subscriber has: its snapshot's, then each update's. */
  version = 0
  /** Frames held back until the first snapshot is written. */
  private held: Array<{ frame: string | Buffer; version: number; full: boolean }> | undefined = []
  private overflow = false
  private closed = false

  constructor(
    readonly res: ServerResponse,
    private readonly maxBufferedBytes: number,
    private readonly onSlow: (stream: SseStream) => void,
  ) {}

  get open(): boolean {
    return !this.closed && !this.res.destroyed && this.res.writable
  }

  /** Writes a frame; cuts the stream off when its reader has fallen too far behind. */
  write(frame: string | Buffer): boolean {
    if (!this.open) return false
    if (this.res.writableLength > this.maxBufferedBytes) {
      this.closed = true
      this.onSlow(this)
      this.res.destroy()
      return false
    }
    this.res.write(frame)
    return true
  }

  /**
   * A versioned update (`full`: a whole status_update). Held while the stream
   * waits for its snapshot; then written only if newer than what the stream
   * has, and, for a bulk update, only if it is the very next version.
   */
  update(frame: string | Buffer, version: number, full: boolean): UpdateOutcome {
    if (this.held) {
      if (this.held.length < MAX_HELD) this.held.push({ frame, version, full })
      else this.overflow = true
      return 'written'
    }
    if (version <= this.version) return 'old'
    if (!full && version !== this.version + 1) return 'gap'
    this.write(frame)
    this.version = version
    return 'written'
  }

  /** Writes a whole snapshot, then the held updates newer than it; 'gap' when some were lost meanwhile. */
  snapshot(frame: string | Buffer, version: number): UpdateOutcome {
    const held = this.held ?? []
    this.held = undefined
    if (version > this.version || this.version === 0) {
      this.write(frame)
      this.version = version
    }
    let outcome: UpdateOutcome = this.overflow ? 'gap' : 'written'
    this.overflow = false
    for (const h of held) if (this.update(h.frame, h.version, h.full) === 'gap') outcome = 'gap'
    return outcome
  }

  end(): void {
    if (this.closed) return
    this.closed = true
    this.res.end()
  }
}
