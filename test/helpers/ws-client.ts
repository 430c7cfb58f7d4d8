/** A real WebSocket client with a message queue, for readable protocol tests. */
import { WebSocket, type ClientOptions } from 'ws'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Frame = Record<string, any>

export class TestClient {
  readonly messages: Frame[] = []
  private waiters: Array<{ match: (m: Frame) => boolean; resolve: (m: Frame) => void }> = []
  readonly closed: Promise<{ code: number; reason: string }>

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString('utf8')) as Frame
      const i = this.waiters.findIndex((w) => w.match(m))
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m)
      else this.messages.push(m)
    })
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  }

  static connect(url: string, options?: ClientOptions): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options)
      const client = new TestClient(ws)
      ws.once('open', () => resolve(client))
      ws.once('error', reject)
    })
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message))
  }

  /** The next message matching `match` (already received or still to come). */
  next(match: (m: Frame) => boolean = () => true, timeoutMs = 3_000): Promise<Frame> {
    const i = this.messages.findIndex(match)
    if (i >= 0) return Promise.resolve(this.messages.splice(i, 1)[0]!)
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (m: Frame) => {
          clearTimeout(timer)
          resolve(m)
        },
      }
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        reject(new Error(`no matching message within ${timeoutMs} ms; queued: ${JSON.stringify(this.messages)}`))
      }, timeoutMs)
      this.waiters.push(waiter)
    })
  }

  /** Sends an event and waits for the response or error with its request_id. */
  request(event: string, data: unknown = {}, requestId: string = Math.random().toString(36).slice(2)): Promise<Frame> {
    this.send({ event, request_id: requestId, data })
    return this.next((m) => m.request_id === requestId && (m.type === 'response' || m.type === 'error'))
  }

  close(): void {
    this.ws.close()
  }
}
