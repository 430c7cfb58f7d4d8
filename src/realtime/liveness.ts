/**
 * Ping/pong liveness: one timer for all connections. Each round pings every
 * client; a client that has not answered the previous round's ping is cut off.
 */
import type { Hub } from './hub.js'

export class Liveness {
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly hub: Hub,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.round(), this.intervalMs).unref()
  }

  close(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  private round(): void {
    for (const client of this.hub.all()) {
      if (!client.open) continue
      if (!client.alive) {
        client.drop('ping_timeout')
        continue
      }
      client.alive = false
      client.socket.ping()
    }
  }
}
