/**
 * The `rateLimit` rules as the buckets read them: one object per rule, changed
 * in place by a config reload, so the buckets already there (each /ws
 * connection's, and each client IP's and device's in the memory store; the
 * Redis store is handed the rule on every take) follow from their next take.
 */
import type { Config } from '../config/schema.js'
import type { RateRule } from './token-bucket.js'

export class RateRules {
  /** Per client IP (HTTP requests, WebSocket upgrades) and per /ws connection. */
  readonly perIp: RateRule
  /** One bucket per device for its /ws messages, when configured. */
  perDevice: RateRule | undefined

  constructor(rateLimit: Config['rateLimit']) {
    this.perIp = { rps: rateLimit.rps, burst: rateLimit.burst }
    this.reload(rateLimit)
  }

  reload({ rps, burst, perDevice }: Config['rateLimit']): void {
    Object.assign(this.perIp, { rps, burst })
    if (!perDevice) this.perDevice = undefined
    else if (this.perDevice) Object.assign(this.perDevice, perDevice)
    else this.perDevice = { ...perDevice }
  }
}
