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
import * as ws from 'ws'

interface FrameOptions {
  fin: boolean
  rsv1: boolean
  opcode: number
  mask: boolean
  readOnly: boolean
}
/** ws's frame builder (a named export of its ESM wrapper, a property in CommonJS; not in @types/ws). */
const { Sender } = ws as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] } }

/** The bytes of one unmasked, final text frame carrying `payload`. */
export function textFrame(payload: Buffer): Buffer {
  const parts = Sender.frame(payload, { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: false })
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts)
}

/**
 * Several texts as consecutive unmasked, final text frames in one buffer (a
 * replay): one allocation, each text encoded straight into it.
 */
export function textFrames(texts: readonly string[]): Buffer {
  const lengths = texts.map((t) => Buffer.byteLength(t, 'utf8'))
  let total = 0
  for (const n of lengths) total += headerSize(n) + n
  const out = Buffer.allocUnsafe(total)
  let at = 0
  texts.forEach((text, i) => {
    const n = lengths[i]!
    out[at] = 0x81
    if (n < 126) {
      out[at + 1] = n
      at += 2
    } else if (n < 65_536) {
      out[at + 1] = 126
      out.writeUInt16BE(n, at + 2)
      at += 4
    } else {
      out[at + 1] = 127
      out.writeBigUInt64BE(BigInt(n), at + 2)
      at += 10
    }
    at += out.write(text, at, 'utf8')
  })
  return out
}

const headerSize = (n: number): number => (n < 126 ? 2 : n < 65_536 ? 4 : 10)

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
