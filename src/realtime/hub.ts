/**
 * The connections of this instance, by device and by room. A device may hold
 * several connections (tabs, reconnect overlap); a delivery reaches each of
 * them once, however many targets name it.
 */
import type { Client } from './client.js'

export interface Targets {
  device_ids?: readonly string[]
  /** Devices present in these rooms (any pool). */
  rooms?: readonly string[]
  /** Every identified device. Connections that never identified (dashboards) are not included. */
  all?: boolean
}

export class Hub {
  private readonly clients = new Set<Client>()
  private readonly byDevice = new Map<string, Set<Client>>()
  private readonly byRoom = new Map<string, Set<Client>>()
  private readonly removeListeners: Array<(client: Client) => void> = []

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
    addTo(this.byDevice, deviceId, client)
  }

  joinRoom(client: Client, room: string): void {
    client.rooms.add(room)
    addTo(this.byRoom, room, client)
  }

  leaveRoom(client: Client, room: string): void {
    client.rooms.delete(room)
    removeFrom(this.byRoom, room, client)
  }

  /** Called for every connection that goes away (presence uses it to end the client's presence). */
  onRemove(listener: (client: Client) => void): void {
    this.removeListeners.push(listener)
  }

  remove(client: Client): void {
    if (!this.clients.delete(client)) return
    if (client.deviceId !== undefined) removeFrom(this.byDevice, client.deviceId, client)
    for (const room of client.rooms) removeFrom(this.byRoom, room, client)
    for (const listener of this.removeListeners) listener(client)
  }

  /** Sends one pre-serialised frame to the targets; returns how many connections took it. */
  deliver(targets: Targets, frame: string | Buffer): number {
    let count = 0
    if (targets.all) {
      for (const set of this.byDevice.values()) for (const c of set) if (c.send(frame)) count++
      return count
    }
    const recipients = new Set<Client>()
    for (const id of targets.device_ids ?? []) for (const c of this.byDevice.get(id) ?? []) recipients.add(c)
    for (const room of targets.rooms ?? []) for (const c of this.byRoom.get(room) ?? []) recipients.add(c)
    for (const c of recipients) if (c.send(frame)) count++
    return count
  }

  all(): IterableIterator<Client> {
    return this.clients.values()
  }
}

function addTo(index: Map<string, Set<Client>>, key: string, client: Client): void {
  let set = index.get(key)
  if (!set) index.set(key, (set = new Set()))
  set.add(client)
}

function removeFrom(index: Map<string, Set<Client>>, key: string, client: Client): void {
  const set = index.get(key)
  set?.delete(client)
  if (set?.size === 0) index.delete(key)
}
