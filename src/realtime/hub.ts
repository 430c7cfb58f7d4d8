/**
 * The connections of this instance, by device. A device may hold several
 * connections (tabs, reconnect overlap); a delivery reaches each of them.
 */
import type { Client } from './client.js'

export interface Targets {
  device_ids?: readonly string[]
  /** Every identified device. Connections that never identified (dashboards) are not included. */
  all?: boolean
}

export class Hub {
  private readonly clients = new Set<Client>()
  private readonly byDevice = new Map<string, Set<Client>>()

  get size(): number {
    return this.clients.size
  }

  get deviceCount(): number {
    return this.byDevice.size
  }

  add(client: Client): void {
    this.clients.add(client)
  }

  identify(client: Client, deviceId: string): void {
    client.deviceId = deviceId
    let set = this.byDevice.get(deviceId)
    if (!set) this.byDevice.set(deviceId, (set = new Set()))
    set.add(client)
  }

  remove(client: Client): void {
    this.clients.delete(client)
    const id = client.deviceId
    if (id === undefined) return
    const set = this.byDevice.get(id)
    set?.delete(client)
    if (set?.size === 0) this.byDevice.delete(id)
  }

  /** Sends one pre-serialised frame to the targets; returns how many connections took it. */
  deliver(targets: Targets, frame: string | Buffer): number {
    let count = 0
    if (targets.all) {
      for (const set of this.byDevice.values()) for (const c of set) if (c.send(frame)) count++
      return count
    }
    const ids = targets.device_ids ?? []
    for (const id of ids.length > 1 ? new Set(ids) : ids) {
      const set = this.byDevice.get(id)
      if (set) for (const c of set) if (c.send(frame)) count++
    }
    return count
  }

  all(): IterableIterator<Client> {
    return this.clients.values()
  }
}
