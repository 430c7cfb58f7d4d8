/** A real SSE client for tests: a raw HTTP GET whose body is parsed into events as they arrive. */
import { request, type IncomingMessage } from 'node:http'
import { SseParser } from '../../src/cli/sse.js'

export interface SseEvent {
  event: string
  id: string | undefined
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any
}

export class SseClient {
  readonly events: SseEvent[] = []
  private waiters: Array<{ match: (e: SseEvent) => boolean; resolve: (e: SseEvent) => void }> = []
  private readonly parser = new SseParser()
  readonly closed: Promise<void>

  private constructor(
    readonly res: IncomingMessage,
    private readonly destroy: () => void,
  ) {
    res.setEncoding('utf8')
    res.on('data', (chunk: string) => this.feed(chunk))
    this.closed = new Promise((r) => res.once('close', () => r()))
  }

  static connect(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => resolve(new SseClient(res, () => req.destroy())))
      req.once('error', reject)
      req.end()
    })
  }

  /** The next event matching `match`, already received or still to come; it is taken off the list. */
  next(match: (e: SseEvent) => boolean = () => true, timeoutMs = 5_000): Promise<SseEvent> {
    const i = this.events.findIndex(match)
    if (i >= 0) return Promise.resolve(this.events.splice(i, 1)[0]!)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        reject(new Error(`no matching SSE event within ${timeoutMs} ms; got ${JSON.stringify(this.events)}`))
      }, timeoutMs)
      const waiter = {
        match,
        resolve: (e: SseEvent) => {
          clearTimeout(timer)
          resolve(e)
        },
      }
      this.waiters.push(waiter)
    })
  }

  close(): void {
    this.destroy()
  }

  private feed(chunk: string): void {
    for (const raw of this.parser.feed(chunk)) {
      const e: SseEvent = { event: raw.event, id: raw.id, data: raw.data ? JSON.parse(raw.data) : undefined }
      const w = this.waiters.find((x) => x.match(e))
      if (w) {
        this.waiters = this.waiters.filter((x) => x !== w)
        w.resolve(e)
      } else {
        this.events.push(e)
      }
    }
  }
}
