/**
 * The device client in a browser: headless Chromium (Debian's, driven by
 * playwright-core) loads `GET /client.js` from a real roomgate and, with the
 * browser's own WebSocket, connects with a device id, joins a room, makes a
 * request a real service answers, receives a broadcast, and survives the
 * server cutting its socket: a request in flight is rejected `disconnected`,
 * the client reconnects, rejoins its room and recovers the broadcasts sent
 * while it was away, each delivered once, before it says `connected` again.
 *
 * Timing is not left to chance: the page hands the client a WebSocket whose
 * new connections it can hold back (they fail at once, as to a closed port),
 * so the broadcasts "while away" are sent while the client is certainly
 * disconnected, however slow the machine.
 */
import { type Browser, type ConsoleMessage, type Page } from 'playwright-core'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type * as ClientModule from '../../src/client/index.js'
import { launchChromium } from '../helpers/browser.js'
import { closeGates, startGate, type TestGate } from '../helpers/gate.js'
import { startService, type GatewayCall, type TestUpstream } from '../helpers/upstream.js'

const INTERNAL_TOKEN = 't'
const DEVICE = 'browser-1'
const ROOM = 'math101'

let browser: Browser
let gate: TestGate
let service: TestUpstream & { calls: GatewayCall[] }

/** What the page keeps on `globalThis.rg` (the tests' tsconfig has no DOM types, hence the casts). */
interface Seen {
  event: string
  data: { n: number }
  stream?: string
  offset?: number
  /** The client's state when the handler ran: `reconnecting` for an event replayed by recovery. */
  state: string
}
interface PageState {
  client: ClientModule.RoomgateClient
  states: string[]
  events: Seen[]
  resyncs: string[]
  /** While false, new sockets fail at once (the client sees a closed port and retries). */
  allowSockets: boolean
  sockets: number
  inflight?: Promise<string>
}
type PageGlobal = { rg: PageState; RoomgateClient: typeof ClientModule.RoomgateClient; WebSocket: ClientModule.SocketConstructor }

beforeAll(async () => {
  // Never skipped: a missing Chromium is a failure.
  const launching = launchChromium()
  service = await startService((call) => {
    if (call.event === 'lobby.hang') return undefined // never answers: in flight when the socket is cut
    return { status: 200, body: { lobby: 'created', device: call.device_id, echo: call.data } }
  })
  gate = await startGate({
    auth: { internalToken: INTERNAL_TOKEN },
    rateLimit: { rps: 10_000, burst: 10_000 },
    services: { lobby: { url: service.url } },
  })
  browser = await launching
})

afterAll(async () => {
  await browser?.close()
  await service?.close()
  await closeGates()
})

async function broadcast(event: string, targets: Record<string, unknown>, data: unknown): Promise<void> {
  const res = await request(`${gate.url}/internal/broadcast`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-internal-token': INTERNAL_TOKEN },
    body: JSON.stringify({ event, data, targets }),
  })
  expect(res.statusCode).toBe(200)
  await res.body.dump()
}

/** The events the page's application has seen, as `stream#offset:event/n`. */
async function seen(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    (globalThis as unknown as PageGlobal).rg.events.map((e) => `${e.stream}#${e.offset}:${e.event}/${e.data.n}`),
  )
}

/** This device's connections on the server. */
const connections = () => [...gate.server.realtime.hub.all()].filter((c) => c.deviceId === DEVICE)

describe('the client library in a browser', () => {
  it('loads from /client.js, connects, requests, receives broadcasts, survives a cut socket and recovers what it missed once', async () => {
    const page = await browser.newPage()
    page.setDefaultTimeout(10_000)
    const problems: string[] = []
    page.on('console', (m: ConsoleMessage) => {
      if (m.type() === 'error') problems.push(`${m.type()}: ${m.text()}`)
    })
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`))

    // A page of the gate's own origin (the module is imported from it).
    const res = await page.goto(`${gate.url}/dashboard`)
    expect(res?.status()).toBe(200)

    // The import as a page without a bundler writes it (a string: the test's own
    // transform would rewrite a dynamic import inside a function).
    const exported = await page.evaluate(
      `(async () => {
        const { RoomgateClient, RoomgateClientError } = await import(${JSON.stringify(`${gate.url}/client.js`)})
        globalThis.RoomgateClient = RoomgateClient
        return [typeof RoomgateClient, typeof RoomgateClientError]
      })()`,
    )
    expect(exported).toEqual(['function', 'function'])

    // Connect with a device id and the browser's WebSocket (wrapped so the test can hold reconnects back).
    const wsUrl = `${gate.wsUrl}/ws`
    await page.evaluate(
      async ({ url, device }) => {
        const g = globalThis as unknown as PageGlobal
        const Native = g.WebSocket
        const rg: PageState = { client: undefined as unknown as ClientModule.RoomgateClient, states: [], events: [], resyncs: [], allowSockets: true, sockets: 0 }
        g.rg = rg
        const Gated = function (this: unknown, u: string): ClientModule.SocketLike {
          rg.sockets++
          if (rg.allowSockets) return new Native(u)
          const refused: ClientModule.SocketLike = { readyState: 3, send: () => undefined, close: () => undefined, onopen: null, onmessage: null, onclose: null, onerror: null }
          setTimeout(() => {
            refused.onerror?.({})
            refused.onclose?.({ code: 1006 })
          }, 0)
          return refused
        } as unknown as ClientModule.SocketConstructor
        const client = new g.RoomgateClient({ url, deviceId: device, WebSocket: Gated, reconnect: { minDelayMs: 50, maxDelayMs: 500 }, requestTimeoutMs: 8_000 })
        rg.client = client
        client.onState((s) => rg.states.push(s))
        client.onResync((s) => rg.resyncs.push(s))
        client.onEvent('note', (data, meta) => rg.events.push({ event: 'note', data: data as { n: number }, ...meta, state: client.currentState }))
        await client.connect()
      },
      { url: wsUrl, device: DEVICE },
    )
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobal).rg.client.currentState)).toBe('connected')
    expect(connections()).toHaveLength(1)

    // A request, answered by the service; the device id is the one the page gave.
    const answer = await page.evaluate(() => (globalThis as unknown as PageGlobal).rg.client.request('lobby.create', { seats: 4 }))
    expect(answer).toEqual({ lobby: 'created', device: DEVICE, echo: { seats: 4 } })
    expect(service.calls.at(-1)?.body).toMatchObject({ event: 'lobby.create', device_id: DEVICE, data: { seats: 4 } })
    // An error answer is a RoomgateClientError with the server's code.
    const refused = await page.evaluate(() =>
      (globalThis as unknown as PageGlobal).rg.client.request('nosuch.thing').then(
        () => 'answered',
        (e: { name: string; code: string }) => `${e.name}:${e.code}`,
      ),
    )
    expect(refused).toMatch(/^RoomgateClientError:[a-z_]+$/)

    // Join a room (rejoined after the reconnect below).
    await page.evaluate((room) => (globalThis as unknown as PageGlobal).rg.client.join(room), ROOM)

    // A broadcast to the device arrives, with its stream position.
    await broadcast('note', { device_ids: [DEVICE] }, { n: 1 })
    await broadcast('note', { rooms: [ROOM] }, { n: 2 })
    await page.waitForFunction(() => (globalThis as unknown as PageGlobal).rg.events.length >= 2)
    const before = await seen(page)
    expect(before[0]).toBe(`device:${DEVICE}#1:note/1`)
    expect(before[1]).toMatch(new RegExp(`^room:${ROOM}#\\d+:note/2$`))
    const roomOffset = Number(/#(\d+):/.exec(before[1]!)![1])

    // A request in flight when the socket is cut (the service never answers it).
    await page.evaluate(() => {
      const rg = (globalThis as unknown as PageGlobal).rg
      rg.inflight = rg.client.request('lobby.hang').then(
        () => 'answered',
        (e: { code: string }) => e.code,
      )
    })
    await expect.poll(() => service.calls.some((c) => c.body.event === 'lobby.hang')).toBe(true)

    // The server cuts the socket, with the client's reconnects held back.
    await page.evaluate(() => {
      ;(globalThis as unknown as PageGlobal).rg.allowSockets = false
    })
    const socketsBefore = await page.evaluate(() => (globalThis as unknown as PageGlobal).rg.sockets)
    const [conn] = connections()
    conn!.socket.terminate()
    await page.waitForFunction(() => (globalThis as unknown as PageGlobal).rg.states.at(-1) === 'reconnecting')
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobal).rg.inflight)).toBe('disconnected')
    // It is trying (and failing) to come back: no connection on the server meanwhile.
    await page.waitForFunction((n) => (globalThis as unknown as PageGlobal).rg.sockets > n, socketsBefore)
    await expect.poll(() => connections().length).toBe(0)

    // Sent while it is away: to the device and to its room.
    await broadcast('note', { device_ids: [DEVICE] }, { n: 3 })
    await broadcast('note', { rooms: [ROOM] }, { n: 4 })
    await broadcast('note', { device_ids: [DEVICE] }, { n: 5 })
    expect(await seen(page)).toEqual(before)

    // Let it back in: it reconnects, rejoins, recovers, then says connected.
    await page.evaluate(() => {
      ;(globalThis as unknown as PageGlobal).rg.allowSockets = true
    })
    await page.waitForFunction(() => (globalThis as unknown as PageGlobal).rg.states.at(-1) === 'connected')
    expect(connections()).toHaveLength(1)

    // Live again, after the recovered ones.
    await broadcast('note', { device_ids: [DEVICE] }, { n: 6 })
    await page.waitForFunction(() => (globalThis as unknown as PageGlobal).rg.events.some((e) => e.data.n === 6))

    const rg = await page.evaluate(() => {
      const s = (globalThis as unknown as PageGlobal).rg
      return { states: s.states, events: s.events, resyncs: s.resyncs, state: s.client.currentState }
    })
    expect(rg.states).toEqual(['connecting', 'connected', 'reconnecting', 'connected'])
    expect(rg.resyncs).toEqual([])
    // Every event once; the missed ones, in order per stream, replayed before `connected`.
    const brief = (e: Seen) => `${e.stream}#${e.offset}:${e.event}/${e.data.n}`
    const byStream = (stream: string) => rg.events.filter((e) => e.stream === stream).map(brief)
    expect(byStream(`device:${DEVICE}`)).toEqual([
      `device:${DEVICE}#1:note/1`,
      `device:${DEVICE}#2:note/3`,
      `device:${DEVICE}#3:note/5`,
      `device:${DEVICE}#4:note/6`,
    ])
    expect(byStream(`room:${ROOM}`)).toEqual([`room:${ROOM}#${roomOffset}:note/2`, `room:${ROOM}#${roomOffset + 1}:note/4`])
    expect(rg.events.map((e) => e.data.n).sort()).toEqual([1, 2, 3, 4, 5, 6])
    expect(rg.events.filter((e) => [3, 4, 5].includes(e.data.n)).map((e) => e.state)).toEqual(['reconnecting', 'reconnecting', 'reconnecting'])
    expect(rg.events.find((e) => e.data.n === 6)?.state).toBe('connected')

    // The room was rejoined: a room broadcast reaches it live.
    await broadcast('note', { rooms: [ROOM] }, { n: 7 })
    await page.waitForFunction(() => (globalThis as unknown as PageGlobal).rg.events.some((e) => e.data.n === 7))
    expect((await seen(page)).at(-1)).toBe(`room:${ROOM}#${roomOffset + 2}:note/7`)

    // Still usable, and closing is final.
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobal).rg.client.request('lobby.create', { seats: 2 }))).toMatchObject({ lobby: 'created' })
    await page.evaluate(() => (globalThis as unknown as PageGlobal).rg.client.close())
    await expect.poll(() => connections().length).toBe(0)
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobal).rg.states.at(-1))).toBe('closed')

    expect(problems).toEqual([])
    await page.close()
  })
})
