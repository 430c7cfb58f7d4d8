/**
 * What roomgate does around @fastify/websocket's handling of an upgrade: pace
 * a burst of them, and let go of the upgrade request once the connection is
 * open.
 */
import { ServerResponse, type IncomingMessage, type Server } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import { Turns } from './turns.js'

type UpgradeListener = (request: unknown, socket: Duplex, head: Buffer) => void

/**
 * Makes the upgrade requests of `server` wait for their turn before the
 * listeners registered so far see them: a mass reconnect's thousand upgrades,
 * read in one poll, are then routed, checked and answered one per turn of the
 * loop, not all in that poll. A socket that fails while it waits is
 * destroyed, and one destroyed meanwhile is never handed on.
 */
export function paceUpgrades(server: Server, turns = new Turns()): void {
  const listeners = server.listeners('upgrade') as UpgradeListener[]
  server.removeAllListeners('upgrade')
  server.on('upgrade', (request: unknown, socket: Duplex, head: Buffer) => {
    // Node takes its own error listener off a socket before it emits 'upgrade'.
    const onError = (): void => void socket.destroy()
    socket.on('error', onError)
    void turns.next().then(() => {
      socket.off('error', onError)
      if (socket.destroyed) return
      for (const listener of listeners) listener(request, socket, head)
    })
  })
}

/**
 * Lets go of the upgrade request, for a WebSocket handler to call first.
 * @fastify/websocket's error listener on the new connection holds the
 * upgrade's Fastify request and reply, and the TCP socket still points at the
 * response it made for the upgrade: as long as the connection lasts, both
 * kept Node's request and response, Fastify's request and reply and their
 * closures alive (about 2 KiB per connection, a quarter of an idle one). The
 * listeners the connection has so far (that one) are replaced by `onError`,
 * and the response is detached from the socket.
 */
export function releaseUpgrade(socket: WebSocket, request: IncomingMessage, onError: (err: Error) => void): void {
  for (const listener of socket.listeners('error')) socket.off('error', listener as (err: Error) => void)
  socket.on('error', onError)
  const tcp = request.socket as Socket & { _httpMessage?: unknown }
  if (tcp._httpMessage instanceof ServerResponse) tcp._httpMessage.detachSocket(tcp)
}
