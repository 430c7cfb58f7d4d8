/**
 * An open WebSocket connection keeps nothing of its upgrade request alive:
 * Node's request and response, Fastify's request and reply (about 2 KiB per
 * idle connection). Checked with weak references and a forced collection.
 */
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterEach, expect, it } from 'vitest'
import { closeGates, startGate } from '../helpers/gate.js'
import { sleep, waitFor } from '../helpers/ports.js'
import { TestClient } from '../helpers/ws-client.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const clients: TestClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  await closeGates()
})

it('lets go of the upgrade request once the connection is open, and still handles its protocol errors', async () => {
  const gate = await startGate({ rateLimit: { rps: 1_000, burst: 1_000 } })
  const upgrades: WeakRef<IncomingMessage>[] = []
  gate.app.server.prependListener('upgrade', (req: IncomingMessage) => void upgrades.push(new WeakRef(req)))
  for (let i = 0; i < 20; i++) clients.push(await TestClient.connect(`${gate.wsUrl}/ws?device_id=held-${i}`))
  expect(upgrades).toHaveLength(20)

  // The connections work after the release.
  const pong = await clients[5]!.request('ping')
  expect(pong.type).toBe('response')

  // deref() keeps its target alive until the current job ends: collect only after an await, then look.
  const held = () => upgrades.filter((r) => r.deref() !== undefined).length
  for (let round = 0; round < 10; round++) {
    await sleep(10)
    gc()
    await sleep(0)
    if (held() === 0) break
  }
  expect(held()).toBe(0)

  // A protocol error still reaches roomgate's handler (an 'error' with no listener would crash the process).
  const c = clients[1]!
  const socket = (c.ws as unknown as { _socket: Socket })._socket
  const mask = Buffer.from([1, 2, 3, 4])
  const payload = Buffer.from([0xc3, 0x28]).map((b, i) => b ^ mask[i % 4]!)
  socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, payload]))
  expect((await c.closed).code).toBe(1007)
  await waitFor(() => gate.logs.some((l) => l.includes('websocket protocol error')))
  expect((await clients[2]!.request('ping')).type).toBe('response')
})
