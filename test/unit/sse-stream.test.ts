/** SseStream on a real HTTP response: frames in version order, old ones dropped, gaps reported, slow readers cut. */
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SSE_HEADERS, sseFrame, SseStream } from '../../src/status/sse.js'
import { waitFor } from '../helpers/ports.js'
import { SseClient } from '../helpers/sse-client.js'

let server: Server
let stream: SseStream
let client: SseClient
let cut = 0

async function open(maxBufferedBytes = 1 << 20): Promise<void> {
  let res: ServerResponse | undefined
  server = createServer((_req, r) => {
    r.writeHead(200, SSE_HEADERS)
    r.flushHeaders()
    res = r
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  client = await SseClient.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
  await waitFor(() => res)
  stream = new SseStream(res!, maxBufferedBytes, () => cut++)
}

const update = (id: number, updates: Record<string, string>) => sseFrame('bulk_update', { updates }, id)
const full = (id: number, statuses: Record<string, string>) => sseFrame('status_update', { statuses }, id)

beforeEach(() => {
  cut = 0
})
afterEach(async () => {
  client.close()
  server.closeAllConnections()
  await new Promise((r) => server.close(r))
})

describe('SseStream', () => {
  it('holds updates until the snapshot, then writes only the newer ones', async () => {
    await open()
    expect(stream.update(update(3, { a: 'sold' }), 3, false)).toBe('written')
    expect(stream.update(update(4, { b: 'sold' }), 4, false)).toBe('written')
    expect(stream.snapshot(full(3, { a: 'sold', b: 'open' }), 3)).toBe('written')
    await waitFor(() => client.events.length === 2)
    expect(client.events.map((e) => [e.event, e.id])).toEqual([
      ['status_update', '3'],
      ['bulk_update', '4'],
    ])
  })

  it('drops what it has seen, and reports a bulk update that skips a version', async () => {
    await open()
    stream.snapshot(full(5, {}), 5)
    expect(stream.update(update(5, { a: 'x' }), 5, false)).toBe('old')
    expect(stream.update(update(4, { a: 'x' }), 4, false)).toBe('old')
    expect(stream.update(update(7, { a: 'x' }), 7, false)).toBe('gap')
    expect(stream.update(full(7, { a: 'x' }), 7, true)).toBe('written')
    expect(stream.update(update(8, { a: 'y' }), 8, false)).toBe('written')
    await waitFor(() => client.events.length === 3)
    expect(client.events.map((e) => e.id)).toEqual(['5', '7', '8'])
    expect(stream.version).toBe(8)
  })

  it('cuts off a reader that stops reading', async () => {
    await open(1024)
    stream.snapshot(full(1, {}), 1)
    client.res.pause()
    const big = sseFrame('status_update', { statuses: { pad: 'x'.repeat(256 * 1024) } }, 2)
    for (let i = 0; i < 200 && stream.open; i++) stream.write(big)
    expect(stream.open).toBe(false)
    expect(cut).toBe(1)
  })
})
