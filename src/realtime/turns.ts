import type { Server } from 'node:http'
import type { Duplex } from 'node:stream'

/**
 * One caller per turn of the event loop. When a thousand devices reconnect
 * at once, their upgrades arrive in one poll of the sockets and their history
 * reads come back together (one Redis reply holds many); doing all of that
 * work as it arrives would hold the loop for as long as it takes, and every
 * other connection's messages would wait. Upgrades and replays wait here for
 * their turn instead: one per `setImmediate`, so the loop polls sockets
 * between two of them. A lone caller waits one turn.
 */
export class Turns {
  private readonly waiting: (() => void)[] = []
  private head = 0
  private scheduled = false

  /** Resolves on this caller's turn. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve)
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(this.step)
      }
    })
  }

  private readonly step = (): void => {
    const resolve = this.waiting[this.head++]!
    if (this.head === this.waiting.length) {
      this.waiting.length = 0
      this.head = 0
      this.scheduled = false
    } else {
      // Queued from inside an immediate, it runs on the loop's next turn, after a poll for I/O.
      setImmediate(this.step)
    }
    resolve()
  }
}

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
