/**
 * A Server-Sent Events parser for the CLI (the WHATWG rules roomgate's
 * stream needs): fed text chunks as they arrive, it returns the complete
 * events; `data:` lines are joined with newlines, comments are skipped.
 * A line or an event larger than MAX_EVENT_CHARS throws (a server that never
 * ends its line must not fill the CLI's memory).
 */

export const MAX_EVENT_CHARS = 8 * 1024 * 1024

export class SseTooLarge extends Error {
  constructor() {
    super(`an event is larger than ${MAX_EVENT_CHARS / 1024 / 1024} MiB`)
  }
}
export interface SseEvent {
  event: string
  id: string | undefined
  data: string
}

export class SseParser {
  private buffer = ''
  private event = ''
  private id: string | undefined
  private data: string[] = []
  private dataChars = 0

  feed(chunk: string): SseEvent[] {
    this.buffer += chunk
    const out: SseEvent[] = []
    for (let nl = this.buffer.search(/\r\n|\r|\n/); nl >= 0; nl = this.buffer.search(/\r\n|\r|\n/)) {
      const line = this.buffer.slice(0, nl)
      // A lone \r at the very end may be the first half of \r\n: wait for more.
      if (this.buffer[nl] === '\r' && nl === this.buffer.length - 1) break
      this.buffer = this.buffer.slice(nl + (this.buffer.startsWith('\r\n', nl) ? 2 : 1))
      const ready = this.line(line)
      if (ready) out.push(ready)
    }
    if (this.buffer.length > MAX_EVENT_CHARS) throw new SseTooLarge()
    return out
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') {
      if (this.data.length === 0 && this.event === '') return undefined
      const ready = { event: this.event || 'message', id: this.id, data: this.data.join('\n') }
      this.event = ''
      this.data = []
      this.dataChars = 0
      return ready
    }
    if (line.startsWith(':')) return undefined
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') this.event = value
    else if (field === 'data') {
      this.dataChars += value.length + 1
      if (this.dataChars > MAX_EVENT_CHARS) throw new SseTooLarge()
      this.data.push(value)
    }
    else if (field === 'id') this.id = value
    return undefined
  }
}
