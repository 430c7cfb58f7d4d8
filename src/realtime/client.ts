/**
 * One WebSocket connection. Its outgoing queue is bounded: when the bytes
 * waiting in the socket pass `maxBufferedBytes`, the client has stopped reading
 * and is cut off, so a slow reader can never grow the server's memory.
 */
import type { WebSocket } from 'ws'
import { TokenBucket, type RateRule } from '../ratelimit/token-bucket.js'
import type { Membership } from './hub.js'
import { textFrames, writeFrame } from './wire.js'

export type DisconnectReason = 'slow_consumer' | 'ping_timeout'

export interface ClientOptions {
  rateLimit: RateRule
  maxBufferedBytes: number
  onDisconnect: (client: Client, reason: DisconnectReason) => void
}

const OPEN = 1

export class Client {
  deviceId: string | undefined
  /** The claims of the device token that identified it (none for a claimed device_id). */
  claims: Readonly<Record<string, unknown>> | undefined
  /** Closes the connection when its token expires (see device-auth.ts). */
  tokenTimer: NodeJS.Timeout | undefined
  /** Set by pong, cleared by each ping round (see liveness.ts). */
  alive = true
  /** The topics it is in, by name (kept by the Hub, with each topic's members). */
  readonly topics = new Map<string, Membership>()
  /** Service calls made for this client and not answered yet; aborted if it leaves. */
  readonly calls = new Set<{ abort(reason: Error): void }>()
  readonly bucket: TokenBucket

  constructor(
    readonly socket: WebSocket,
    readonly ip: string,
    private readonly options: ClientOptions,
  ) {
    this.bucket = new TokenBucket(options.rateLimit, performance.now())
    socket.once('close', () => {
      clearTimeout(this.tokenTimer)
      for (const call of this.calls) call.abort(new Error('client disconnected'))
    })
  }

  get open(): boolean {
    return this.socket.readyState === OPEN
  }

  /**
   * Queues a text frame. Returns false when the client is gone or was just cut
   * off for not reading: its backlog was already over the cap. (A single large
   * frame to a client that keeps up is sent; the backlog is at most the cap plus
   * one frame.)
   */
  send(frame: string | Buffer): boolean {
    const socket = this.socket
    if (socket.readyState !== OPEN) return false
    if (socket.bufferedAmount > this.options.maxBufferedBytes) {
      this.drop('slow_consumer')
      return false
    }
    socket.send(frame, { binary: false })
    return true
  }

  /**
   * Queues a frame prepared once for many clients (see wire.ts): `wire` is the
   * whole WebSocket frame, `payload` its text for when `ws` must frame it itself.
   */
  sendPrepared(wire: Buffer, payload: Buffer): boolean {
    const socket = this.socket
    if (socket.readyState !== OPEN) return false
    if (socket.bufferedAmount > this.options.maxBufferedBytes) {
      this.drop('slow_consumer')
      return false
    }
    if (!writeFrame(socket, wire)) socket.send(payload, { binary: false })
    return true
  }

  /**
   * Queues several frames (a recovery's replay) as one write: their WebSocket
   * frames joined, or one `ws` send each when it must frame them itself.
   * Returns how many were queued.
   */
  sendMany(frames: readonly string[]): number {
    const socket = this.socket
    if (frames.length === 0 || socket.readyState !== OPEN) return 0
    if (socket.bufferedAmount > this.options.maxBufferedBytes) {
      this.drop('slow_consumer')
      return 0
    }
    if (!writeFrame(socket, textFrames(frames))) for (const f of frames) socket.send(f)
    return frames.length
  }

  /** Cuts the connection at once: a close frame would only queue behind the unread bytes. */
  drop(reason: DisconnectReason): void {
    if (this.socket.readyState > OPEN) return
    this.options.onDisconnect(this, reason)
    this.socket.terminate()
  }
}
