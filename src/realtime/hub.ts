/**
 * The connections of this instance, by device and by room. A device may hold
 * several connections (tabs, reconnect overlap); a delivery reaches each of
 * them once, however many targets name it.
 */
import { PerIpCounts } from '../ratelimit/caps.js'
import type { Client } from './client.js'
import { textFrame } from './wire.js'

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
  /** Identified connections, flat: what `all` reaches. */
  private readonly identified = new Set<Client>()
  private readonly byRoom = new Map<string, Set<Client>>()
  /** Open connections per client IP (for ws.maxConnectionsPerIp). */
  private readonly perIp = new PerIpCounts()
  private readonly removeListeners: Array<(client: Client) => void> = []
  private readonly connectListeners: Array<(client: Client) => void> = []
  private readonly identifyListeners: Array<(client: Client) => void> = []

  get size(): number {
    return this.clients.size
  }

  get deviceCount(): number {
    return this.byDevice.size
  }

  /** Open connections from one client IP. */
  connectionsFrom(ip: string): number {
    return this.perIp.of(ip)
  }

  add(client: Client): void {
    if (this.clients.has(client)) return
    this.clients.add(client)
    this.perIp.add(client.ip)
  }

  identify(client: Client, deviceId: string): void {
    client.deviceId = deviceId
    addTo(this.byDevice, deviceId, client)
    this.identified.add(client)
    for (const listener of this.identifyListeners) listener(client)
  }

  /** Called once per connection, after the identity its URL carried (if any) was taken. */
  onConnect(listener: (client: Client) => void): void {
    this.connectListeners.push(listener)
  }

  /** Called when a connection identifies as a device (by URL or by an identify event). */
  onIdentify(listener: (client: Client) => void): void {
    this.identifyListeners.push(listener)
  }

  connected(client: Client): void {
    for (const listener of this.connectListeners) listener(client)
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
    this.perIp.remove(client.ip)
    this.identified.delete(client)
    if (client.deviceId !== undefined) removeFrom(this.byDevice, client.deviceId, client)
    for (const room of client.rooms) removeFrom(this.byRoom, room, client)
    for (const listener of this.removeListeners) listener(client)
  }

  /**
   * Sends one pre-serialised message to the targets, framed once for all of
   * them (see wire.ts); returns how many connections took it.
   */
  deliver(targets: Targets, frame: string | Buffer): number {
    const payload = typeof frame === 'string' ? Buffer.from(frame) : frame
    const wire = textFrame(payload)
    let count = 0
    if (targets.all) {
      for (const c of this.identified) if (c.sendPrepared(wire, payload)) count++
      return count
    }
    const recipients = new Set<Client>()
    for (const id of targets.device_ids ?? []) for (const c of this.byDevice.get(id) ?? []) recipients.add(c)
    for (const room of targets.rooms ?? []) for (const c of this.byRoom.get(room) ?? []) recipients.add(c)
    for (const c of recipients) if (c.sendPrepared(wire, payload)) count++
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
