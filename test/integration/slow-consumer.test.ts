/**
 * A client that stops reading is cut off once its queue passes
 * ws.maxBufferedBytes; the others keep receiving everything.
 */
import type { Socket } from 'node:net'
import { afterEach, expect, it } from 'vitest'
import { request } from 'undici'
import { WebSocket } from 'ws'
import { closeGates, startGate } from '../helpers/gate.js'
import { waitFor } from '../helpers/ports.js'
import { TestClient } from '../helpers/ws-client.js'

afterEach(async () => {
  await closeGates()
})

it('disconnects a slow reader while the others keep receiving', async () => {
  const TOKEN = 't'
  const gate = await startGate({ auth: { internalToken: TOKEN }, ws: { maxBufferedBytes: 256 * 1024 } })
  const fast = await TestClient.connect(`${gate.wsUrl}/ws?device_id=fast`)
  const slow = new WebSocket(`${gate.wsUrl}/ws?device_id=slow`)
  await new Promise((r) => slow.once('open', r))
  // Stop reading: the kernel buffers fill, then roomgate's queue for this client grows.
  ;(slow as unknown as { _socket: Socket })._socket.pause()

  const blob = 'x'.repeat(64 * 1024)
  const rounds = 400 // 25 MB: far more than the loopback socket buffers hold
  let deliveredTotal = 0
  for (let i = 0; i < rounds; i++) {
    const res = await request(`${gate.url}/internal/broadcast`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-internal-token': TOKEN },
      body: JSON.stringify({ event: 'tick', data: { i, blob }, targets: { device_ids: ['fast', 'slow'] } }),
    })
    deliveredTotal += ((await res.body.json()) as { delivered: number }).delivered
  }

  // The fast client got every message, in order.
  await waitFor(() => fast.messages.length === rounds, 10_000, 'the fast client to receive everything')
  expect(fast.messages.map((m) => m.data.i)).toEqual(Array.from({ length: rounds }, (_, i) => i))

  // The slow one was cut off: it stopped counting as delivered, and roomgate says why.
  expect(deliveredTotal).toBeLessThan(2 * rounds)
  expect(deliveredTotal).toBeGreaterThan(rounds)
  const metrics = await (await request(`${gate.url}/metrics`)).body.text()
  expect(metrics).toContain('roomgate_ws_disconnects_total{reason="slow_consumer"} 1')
  expect(metrics).toContain('roomgate_ws_connections 1')
  expect(gate.logs.some((l) => l.includes('"reason":"slow_consumer"') && l.includes('"device":"slow"'))).toBe(true)

  const closed = new Promise<number>((r) => slow.once('close', (code) => r(code)))
  ;(slow as unknown as { _socket: Socket })._socket.resume()
  expect(await closed).toBe(1006)
  fast.close()
})
