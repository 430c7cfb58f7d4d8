/**
 * A broadcast written once. `ws` frames every send anew (a header, then the
 * payload, as two corked writes per socket); for one message to thousands of
 * clients, roomgate builds the frame's bytes once (server frames are not
 * masked, and compression is off, so they are the same for every client) and
 * writes them to each socket in one call. This reaches into `ws` internals
 * (`_socket`, `_sender`), checked at every use: when they are not as expected,
 * or the sender has something queued (its own ordering must hold), the plain
 * `socket.send` is used. `ws` is pinned to 8.x for this; a test sends frames
 * of every length class through it.
 */
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'

/**
 * Writes the header of an unmasked, final text frame carrying `n` bytes at
 * `at` in `out` (RFC 6455 §5.2: a 7-bit length, or 126 and 16 bits, or 127
 * and 64 bits); returns where the payload starts.
 */
function writeHeader(out: Buffer, at: number, n: number): number {
  out[at] = 0x81
  if (n < 126) {
    out[at + 1] = n
    return at + 2
  }
  if (n < 65_536) {
    out[at + 1] = 126
    out.writeUInt16BE(n, at + 2)
    return at + 4
  }
  out[at + 1] = 127
  out.writeBigUInt64BE(BigInt(n), at + 2)
  return at + 10
}

const headerSize = (n: number): number => (n < 126 ? 2 : n < 65_536 ? 4 : 10)

/** The bytes of one unmasked, final text frame carrying `payload`. */
export function textFrame(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(headerSize(payload.length) + payload.length)
  payload.copy(out, writeHeader(out, 0, payload.length))
  return out
}

/**
 * Several texts as consecutive text frames in one buffer (a replay): one
 * allocation, each text encoded straight into it.
 */
export function textFrames(texts: readonly string[]): Buffer {
  const lengths = texts.map((t) => Buffer.byteLength(t, 'utf8'))
  let total = 0
  for (const n of lengths) total += headerSize(n) + n
  const out = Buffer.allocUnsafe(total)
  let at = 0
  texts.forEach((text, i) => {
    at = writeHeader(out, at, lengths[i]!)
    at += out.write(text, at, 'utf8')
  })
  return out
}

interface Internals {
  _socket?: Duplex
  _sender?: { _queue?: unknown[]; _state?: number }
}

/** Writes a prepared frame straight to the socket; false when `ws` must send it itself. */
export function writeFrame(socket: WebSocket, wire: Buffer): boolean {
  const { _socket: tcp, _sender: sender } = socket as unknown as Internals
  if (!tcp || !sender || !Array.isArray(sender._queue) || sender._queue.length > 0) return false
  if (sender._state !== undefined && sender._state !== 0) return false
  tcp.write(wire)
  return true
}
