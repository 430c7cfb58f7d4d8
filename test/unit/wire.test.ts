/** The prepared-frame path really writes to the socket with this ws version (no silent fallback). */
import { once } from 'node:events'
import * as ws from 'ws'
import { WebSocket, WebSocketServer } from 'ws'
import { afterEach, expect, it } from 'vitest'
import { textFrame, textFrames, writeFrame } from '../../src/realtime/wire.js'

let server: WebSocketServer | undefined
afterEach(async () => {
  await new Promise((r) => server?.close(r))
})

/** A ws server socket and a client to it, the client collecting `count` messages. */
async function pair(count: number) {
  server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false })
  await once(server, 'listening')
  const accepted = once(server, 'connection') as Promise<[WebSocket]>
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}`)
  const [socket] = await accepted
  const received: { text: boolean; data: Buffer }[] = []
  const all = new Promise<typeof received>((resolve) =>
    client.on('message', (data, isBinary) => {
      received.push({ text: !isBinary, data: data as Buffer })
      if (received.length === count) resolve(received)
    }),
  )
  await once(client, 'open')
  return { socket, client, all }
}

it('writes a frame built once to a ws socket, which the client reads as a text message', async () => {
  const sizes = [0, 125, 126, 65_536]
  const { socket, client, all } = await pair(sizes.length)
  for (const size of sizes) expect(writeFrame(socket, textFrame(Buffer.alloc(size, 'a')))).toBe(true)
  expect((await all).map((m) => `${m.text ? 'text' : 'bin'}:${m.data.length}`)).toEqual(['text:0', 'text:125', 'text:126', 'text:65536'])
  client.close()
})

it("frames exactly as ws's own Sender does, at every length edge", () => {
  const { Sender } = ws as unknown as { Sender: { frame(data: Buffer, options: object): Buffer[] } }
  for (const size of [0, 1, 125, 126, 65_535, 65_536, 70_000]) {
    const payload = Buffer.alloc(size, 'b')
    const theirs = Buffer.concat(Sender.frame(payload, { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: false }))
    expect(textFrame(payload).equals(theirs)).toBe(true)
    expect(textFrames(['b'.repeat(size)]).equals(theirs)).toBe(true)
  }
})

it('joins texts of every length class, multi-byte ones included, into frames the client reads one by one', async () => {
  // 125/126 and 65,535/65,536 bytes are the edges of the three length encodings; 'é' is two bytes, '€' three.
  const texts = ['', 'a'.repeat(125), 'a'.repeat(126), 'é'.repeat(40), '€'.repeat(21_845), 'a'.repeat(65_536), '{"type":"event"}']
  const { socket, client, all } = await pair(texts.length)
  const wire = textFrames(texts)
  expect(wire.length).toBe(texts.reduce((n, t) => n + Buffer.byteLength(t) + (Buffer.byteLength(t) < 126 ? 2 : Buffer.byteLength(t) < 65_536 ? 4 : 10), 0))
  expect(writeFrame(socket, wire)).toBe(true)
  const got = await all
  expect(got.every((m) => m.text)).toBe(true)
  expect(got.map((m) => m.data.toString('utf8'))).toEqual(texts)
  client.close()
})
