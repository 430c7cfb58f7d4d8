/**
 * Request bodies being received: how many each client IP sends at once (the
 * cap), and which ones went silent (the idle timeout, nginx's
 * `client_body_timeout`). One sweep, every quarter of the timeout and at most
 * every second, compares each socket's byte count with the previous sweep's:
 * per request that is one small record and one listener, with no timer and
 * nothing per chunk (a socket timeout per request cost the proxy 10 % of its
 * POST throughput). A silent body is seen between one and one and a quarter
 * timeouts after its last byte.
 */
import type { IncomingMessage } from 'node:http'
import { PerIpCounts } from '../ratelimit/caps.js'

interface Upload {
  req: IncomingMessage
  /** The socket's bytes read at the last sweep that saw them change. */
  bytes: number
  quietSince: number
  onIdle: () => void
}

export class Uploads {
  private readonly perIp = new PerIpCounts()
  /** Bodies not yet received in full. */
  private readonly receiving = new Set<Upload>()
  private sweeper: NodeJS.Timeout | undefined
  private readonly sweepMs: number

  constructor(
    private readonly idleMs: number,
    private readonly maxPerIp: number,
  ) {
    this.sweepMs = Math.max(25, Math.min(1_000, Math.floor(idleMs / 4)))
  }

  /** Bodies `ip` is sending now (counted until each request is done). */
  from(ip: string): number {
    return this.perIp.of(ip)
  }

  /**
   * Counts the body of `req` from `ip`, and calls `onIdle` once if it goes
   * silent before it has all arrived. False when `ip` is at its cap: nothing
   * is counted then.
   */
  begin(req: IncomingMessage, ip: string, onIdle: () => void): boolean {
    if (this.perIp.of(ip) >= this.maxPerIp) return false
    this.perIp.add(ip)
    const upload: Upload = { req, bytes: req.socket.bytesRead, quietSince: performance.now(), onIdle }
    this.receiving.add(upload)
    req.once('close', () => {
      this.receiving.delete(upload)
      this.perIp.remove(ip)
    })
    this.sweeper ??= setInterval(() => this.sweep(), this.sweepMs).unref()
    return true
  }

  close(): void {
    clearInterval(this.sweeper)
    this.sweeper = undefined
  }

  private sweep(): void {
    const now = performance.now()
    for (const upload of this.receiving) {
      const { req } = upload
      if (req.complete || req.socket.destroyed) {
        this.receiving.delete(upload)
        continue
      }
      const bytes = req.socket.bytesRead
      if (bytes !== upload.bytes) {
        upload.bytes = bytes
        upload.quietSince = now
      } else if (now - upload.quietSince >= this.idleMs) {
        this.receiving.delete(upload)
        upload.onIdle()
      }
    }
    if (this.receiving.size === 0) this.close()
  }
}
