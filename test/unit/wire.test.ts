/** The prepared-frame path really writes to the socket with this ws version (no silent fallback). */
import { once } from 'node:events'
import { WebSocket, WebSocketServer } from 'ws'
import { afterEach, expect, it } from 'vitest'
import { textFrame, writeFrame } from '../../src/realtime/wire.js'

let server: WebSocketServer | undefined
afterEach(async () => {
  await new Promise((r) => server?.close(r))
})

it('writes a frame built once to a ws socket, which the client reads as a text message', async () => {
  server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false })
  await once(server, 'listening')
  const accepted = once(server, 'connection') as Promise<[WebSocket]>
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}`)
  const [socket] = await accepted
  const received: string[] = []
  client.on('message', (data, isBinary) => received.push(`${isBinary ? 'bin' : 'text'}:${(data as Buffer).length}`))
  await once(client, 'open')
  for (const size of [0, 125, 126, 65_536]) expect(writeFrame(socket, textFrame(Buffer.alloc(size, 'a')))).toBe(true)
  await new Promise((r) => setTimeout(r, 100))
  expect(received).toEqual(['text:0', 'text:125', 'text:126', 'text:65536'])
  client.close()
})
