/**
 * A TCP forwarder on 127.0.0.1:0 in front of one or more roomgate instances,
 * as a load balancer would be: each accepted connection is piped to a target
 * port (a fixed one, or one a function picks per connection, e.g.
 * `roundRobin`). A connection whose target refuses is closed, so the client
 * retries. `switchTo` changes the target and destroys the current connections
 * (both sides); with `hold`, new connections wait (accepted, unread) until
 * `release`. Released with `holdFrames`, a connection's upgrade goes through
 * but what the client sends after it waits until `releaseFrames`.
 */
import { createServer, connect as tcpConnect, type AddressInfo, type Socket } from 'node:net'

/** One connection the forwarder piped. */
export interface ForwardedConnection {
  /** The port it was piped to. */
  target: number
  /** `performance.now()` when it was piped (accepted, or released if it was held). */
  at: number
  /** The first line the client sent (`GET /ws?device_id=… HTTP/1.1`), once it came. */
  request?: string
  /** The status of the target's first answer (101: the WebSocket upgrade went through), once it came. */
  status?: number
}

export interface Forwarder {
  url: string
  /** The target port of every connection piped, in order. */
  piped: number[]
  /** Every connection piped, in order. */
  connections: ForwardedConnection[]
  switchTo(target: number | (() => number), options?: { hold?: boolean }): void
  release(options?: { holdFrames?: boolean }): void
  /** Resolves once the server answered the upgrade of a connection released with `holdFrames`. */
  upgraded(): Promise<void>
  releaseFrames(): void
  /** Drops what clients send from now on (a connection gone silent without closing), until `unmute`. */
  mute(): void
  unmute(): void
  close(): Promise<void>
}

/** Picks the given ports in turn, one per connection, whether or not they answer. */
export function roundRobin(ports: readonly number[]): () => number {
  let next = 0
  return () => ports[next++ % ports.length]!
}

const firstLine = (chunk: Buffer) => chunk.toString('latin1').split('\r\n', 1)[0]!

export async function startForwarder(target: number | (() => number)): Promise<Forwarder> {
  let current = target
  let hold = false
  let holdFrames = false
  let muted = false
  const held: Socket[] = []
  const sockets = new Set<Socket>()
  const piped: number[] = []
  const connections: ForwardedConnection[] = []
  const flushes: Array<() => void> = []
  let upgraded = Promise.resolve()
  let onUpgraded = () => undefined as void
  const pipe = (down: Socket, at: number) => {
    const port = typeof current === 'function' ? current() : current
    const up = tcpConnect(port, '127.0.0.1')
    const record: ForwardedConnection = { target: port, at }
    piped.push(port)
    connections.push(record)
    sockets.add(up)
    const drop = () => {
      down.destroy()
      up.destroy()
      sockets.delete(down)
      sockets.delete(up)
    }
    for (const s of [up, down]) {
      s.on('error', drop)
      s.on('close', drop)
    }
    const gated = holdFrames
    let answered = false
    const waiting: Buffer[] = []
    up.on('data', (chunk: Buffer) => {
      if (!answered) {
        record.status = Number(firstLine(chunk).split(' ')[1])
        if (gated) onUpgraded()
      }
      answered = true
      down.write(chunk)
    })
    // The client sends nothing after its upgrade request until it is answered.
    down.on('data', (chunk: Buffer) => {
      record.request ??= firstLine(chunk)
      if (muted) return
      if (gated && answered && holdFrames) waiting.push(chunk)
      else up.write(chunk)
    })
    if (gated) flushes.push(() => waiting.splice(0).forEach((c) => up.write(c)))
    down.resume() // accepted paused
  }
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    const at = performance.now()
    sockets.add(socket)
    socket.on('error', () => socket.destroy())
    if (hold) held.push(socket)
    else pipe(socket, at)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`,
    piped,
    connections,
    switchTo(target, options = {}) {
      current = target
      hold = options.hold ?? false
      for (const s of [...sockets]) s.destroy()
      sockets.clear()
    },
    release(options = {}) {
      hold = false
      holdFrames = options.holdFrames ?? false
      if (holdFrames) upgraded = new Promise<void>((resolve) => (onUpgraded = resolve))
      for (const s of held.splice(0)) if (!s.destroyed) pipe(s, performance.now())
    },
    upgraded: () => upgraded,
    mute() {
      muted = true
    },
    unmute() {
      muted = false
    },
    releaseFrames() {
      holdFrames = false
      for (const flush of flushes.splice(0)) flush()
    },
    close() {
      for (const s of [...sockets, ...held]) s.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
