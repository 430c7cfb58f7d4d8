/**
 * The device client (src/client, `roomgate/client`) in Node against real
 * roomgate instances (issue 14): request/response and error mapping; two
 * instances on one Redis behind a TCP forwarder that the test switches from A
 * to B while broadcasts are sent; a trimmed history calling onResync; a
 * short-lived token refreshed through the token function.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { SignJWT } from 'jose'
import { request } from 'undici'
import { WebSocket } from 'ws'
import { RoomgateClient, RoomgateClientError, type ClientState, type RoomgateClientOptions, type SocketConstructor } from '../../src/client/index.js'
import { startForwarder, type Forwarder } from '../helpers/forwarder.js'
import { startGate, type TestGate } from '../helpers/gate.js'
import { redisSuite } from '../helpers/redis-suite.js'
import { startService, type TestUpstream } from '../helpers/upstream.js'
import { freePort, sleep, waitFor } from '../helpers/ports.js'

const { redis } = redisSuite()
const TOKEN = 't'
const SECRET = 'device-secret-of-at-least-32-bytes!!'
/** Generous: these wait for events, and a loaded 2-core CI machine is slow. */
const WAIT_MS = 20_000

const clients: RoomgateClient[] = []
const forwarders: Forwarder[] = []
const services: TestUpstream[] = []

afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  await Promise.all(forwarders.splice(0).map((f) => f.close()))
  await Promise.all(services.splice(0).map((s) => s.close()))
})

function gate(settings: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}): Promise<TestGate> {
  return startGate({ auth: { internalToken: TOKEN }, rateLimit: { rps: 10_000, burst: 10_000 }, ...settings }, env)
}

const portOf = (g: TestGate) => Number(new URL(g.url).port)

function client(url: string, options: Partial<RoomgateClientOptions>): RoomgateClient {
  const c = new RoomgateClient({
    url,
    WebSocket: WebSocket as unknown as SocketConstructor,
    reconnect: { minDelayMs: 50, maxDelayMs: 500 },
    ...options,
  })
  clients.push(c)
  return c
}

async function broadcast(g: TestGate, event: string, targets: Record<string, unknown>, data: unknown = {}): Promise<{ delivered: number }> {
  const res = await request(`${g.url}/internal/broadcast`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-internal-token': TOKEN },
    body: JSON.stringify({ event, data, targets }),
  })
  expect(res.statusCode).toBe(200)
  return (await res.body.json()) as { delivered: number }
}

/** What an onEvent handler got: the data's kind and sequence number, and the meta. */
interface Got {
  kind: string
  n: number
  stream: string | undefined
  offset: number | undefined
}

function record(c: RoomgateClient, event: string): Got[] {
  const got: Got[] = []
  c.onEvent(event, (data, meta) => {
    const d = data as { kind: string; n: number }
    got.push({ kind: d.kind, n: d.n, stream: meta.stream, offset: meta.offset })
  })
  return got
}

function states(c: RoomgateClient): ClientState[] {
  const seen: ClientState[] = []
  c.onState((s) => seen.push(s))
  return seen
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

async function forwarder(target: number): Promise<Forwarder> {
  const f = await startForwarder(target)
  forwarders.push(f)
  return f
}

/** The value of a counter without labels in an instance's /metrics. */
async function counter(g: TestGate, name: string): Promise<number> {
  const text = await (await request(`${g.url}/metrics`)).body.text()
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line ? Number(line.split(' ')[1]) : 0
}

describe('RoomgateClient against roomgate', () => {
  it('maps request/response, service errors, unknown events and timeouts; rejects in-flight requests with disconnected and never resends them', async () => {
    const lobby = await startService((call) => {
      if (call.event === 'lobby.create') return { status: 200, body: { lobby_id: 'L1', got: call.data } }
      if (call.event === 'lobby.join') return { status: 409, body: { error: { code: 'lobby_full', message: 'The lobby is full' } } }
      return undefined // lobby.hang: a hung service
    })
    services.push(lobby)
    const g = await gate({ services: { lobby: { url: lobby.url } } })
    const fwd = await forwarder(portOf(g))
    const c = client(fwd.url, { deviceId: 'phone-1' })
    const seen = states(c)
    await c.connect()
    expect(c.currentState).toBe('connected')

    expect(await c.request('lobby.create', { name: 'chess' })).toEqual({ lobby_id: 'L1', got: { name: 'chess' } })
    expect(lobby.calls[0]!.body).toMatchObject({ event: 'lobby.create', device_id: 'phone-1', data: { name: 'chess' } })

    const full = await c.request('lobby.join', { code: 'ABC' }).catch((e: unknown) => e)
    expect(full).toBeInstanceOf(RoomgateClientError)
    expect(full).toMatchObject({ code: 'lobby_full', message: 'The lobby is full' })

    const unknown = await c.request('nowhere.at.all').catch((e: unknown) => e)
    expect(unknown).toBeInstanceOf(RoomgateClientError)
    expect(unknown).toMatchObject({ code: 'unknown_event' })

    // A small request timeout, on a client of its own.
    const quick = client(fwd.url, { deviceId: 'phone-2', requestTimeoutMs: 1_500 })
    await quick.connect()
    const late = await quick.request('lobby.hang', { n: 0 }).catch((e: unknown) => e)
    expect(late).toBeInstanceOf(RoomgateClientError)
    expect(late).toMatchObject({ code: 'timeout' })
    expect(await quick.request('lobby.create', {})).toMatchObject({ lobby_id: 'L1' })

    // In flight when the socket drops: rejected, not resent after the reconnect.
    const hangs = () => lobby.calls.filter((x) => x.body.event === 'lobby.hang' && x.body.device_id === 'phone-1')
    const inFlight = c.request('lobby.hang', { n: 1 }).catch((e: unknown) => e)
    await waitFor(() => hangs().length === 1, WAIT_MS, 'the service to see lobby.hang')
    fwd.switchTo(portOf(g)) // same target: cuts the connections
    const dropped = await inFlight
    expect(dropped).toBeInstanceOf(RoomgateClientError)
    expect(dropped).toMatchObject({ code: 'disconnected' })
    await waitFor(() => c.currentState === 'connected', WAIT_MS, 'the reconnect')
    expect(await c.request('lobby.create', { again: true })).toEqual({ lobby_id: 'L1', got: { again: true } })
    expect(await c.request('lobby.create', { again: 2 })).toEqual({ lobby_id: 'L1', got: { again: 2 } })
    expect(hangs()).toHaveLength(1)
    expect(seen).toEqual(['connecting', 'connected', 'reconnecting', 'connected'])
  })

  it('gives every event once and in order per stream, and rejoins its room, when the forwarder switches from instance A to B mid-stream', async () => {
    const [a, b] = await Promise.all([gate({}, { REDIS_URL: redis.url }), gate({}, { REDIS_URL: redis.url })])
    const fwd = await forwarder(portOf(a))
    const c = client(fwd.url, { deviceId: 'phone-1' })
    const seen = states(c)
    const got = record(c, 'tick')
    await c.connect()
    await c.join('math101', 'user-7')

    const N = 30
    const targets: Record<string, Record<string, unknown>> = {
      device: { device_ids: ['phone-1'] },
      room: { rooms: ['math101'] },
      all: { all: true },
    }
    const streamOf: Record<string, string> = { device: 'device:phone-1', room: 'room:math101', all: 'all' }
    let sent = 0
    let onB: Promise<void> | undefined
    const progress = async () => {
      sent++
      // A third in: cut the client off A; its new connection waits in the forwarder while more are sent…
      if (sent === N) fwd.switchTo(portOf(b), { hold: true })
      // …then reaches B, which pushes it live events while its rejoin and recover wait in the forwarder…
      if (sent === N + 15) {
        fwd.release({ holdFrames: true })
        onB = fwd.upgraded()
      }
      if (onB) await onB
      // …then they go, while the rest keep coming: live events come before the replay of older ones.
      if (sent === N + 30) fwd.releaseFrames()
    }
    // One sequence per stream (each in order), the three at once, through A and B alternately.
    await Promise.all(
      Object.keys(targets).map(async (kind) => {
        for (let n = 1; n <= N; n++) {
          await broadcast(n % 2 ? a : b, 'tick', targets[kind]!, { kind, n })
          await progress()
        }
      }),
    )
    await waitFor(() => got.length >= 3 * N, WAIT_MS, `${3 * N} events`)

    // In the room again: a broadcast to the room alone reaches it, live.
    const after = await broadcast(a, 'tick', targets.room!, { kind: 'room', n: N + 1 })
    expect(after.delivered).toBe(1)
    await waitFor(() => got.some((x) => x.kind === 'room' && x.n === N + 1), WAIT_MS, 'the room broadcast after the switch')
    // A last one on the other two streams: anything sent twice would have come before these.
    await broadcast(b, 'tick', targets.device!, { kind: 'device', n: N + 1 })
    await broadcast(b, 'tick', targets.all!, { kind: 'all', n: N + 1 })
    await waitFor(() => got.length >= 3 * (N + 1), WAIT_MS, 'the last events')

    for (const kind of Object.keys(targets)) {
      const mine = got.filter((x) => x.kind === kind)
      expect(mine.map((x) => x.n), kind).toEqual(range(1, N + 1))
      expect(new Set(mine.map((x) => x.stream)), kind).toEqual(new Set([streamOf[kind]]))
      // The stream's offsets, each once and without a gap.
      expect(mine.map((x) => x.offset), kind).toEqual(range(1, N + 1))
    }
    expect(got).toHaveLength(3 * (N + 1))
    expect(seen).toEqual(['connecting', 'connected', 'reconnecting', 'connected'])
    expect(fwd.piped).toEqual([portOf(a), portOf(b)])
    // What was sent while it was away came back through B's recover.
    expect(await counter(b, 'roomgate_ws_replayed_total')).toBeGreaterThan(0)
  }, 60_000)

  it('moves to another instance when its own restarts (1012), losing no event', async () => {
    const [a, b] = await Promise.all([gate({}, { REDIS_URL: redis.url }), gate({}, { REDIS_URL: redis.url })])
    const fwd = await forwarder(portOf(a))
    const c = client(fwd.url, { deviceId: 'phone-7' })
    const got = record(c, 'tick')
    await c.connect()
    await broadcast(b, 'tick', { device_ids: ['phone-7'] }, { kind: 'device', n: 1 })
    await waitFor(() => got.length === 1, WAIT_MS, 'the first event')
    // A rolling restart: A shuts down (as on SIGTERM); its clients are told 1012 and come back through B.
    fwd.switchTo(portOf(b), { hold: true })
    await a.close()
    for (let n = 2; n <= 5; n++) await broadcast(b, 'tick', { device_ids: ['phone-7'] }, { kind: 'device', n })
    fwd.release()
    await waitFor(() => got.length === 5, WAIT_MS, 'the events sent while it moved')
    expect(got.map((x) => `${x.n}@${x.offset}`)).toEqual(['1@1', '2@2', '3@3', '4@4', '5@5'])
  })

  it('notices a connection gone silent by its heartbeat, and reconnects', async () => {
    const g = await gate()
    const fwd = await forwarder(portOf(g))
    const c = client(fwd.url, { deviceId: 'phone-6', heartbeatMs: 200, requestTimeoutMs: 1_000 })
    const states: string[] = []
    c.onState((s) => states.push(s))
    const got = record(c, 'tick')
    await c.connect()
    fwd.mute() // no close: only the client's own heartbeat can tell
    await waitFor(() => states.includes('reconnecting'), WAIT_MS, 'the heartbeat to give up')
    fwd.unmute()
    await waitFor(() => c.currentState === 'connected', WAIT_MS, 'the reconnect')
    await broadcast(g, 'tick', { device_ids: ['phone-6'] }, { kind: 'device', n: 1 })
    await waitFor(() => got.length === 1, WAIT_MS, 'an event on the new connection')
    expect(states).toEqual(['connecting', 'connected', 'reconnecting', 'connected'])
  })

  it('gives the application the events that reach it while it first connects', async () => {
    const g = await gate()
    const fwd = await forwarder(portOf(g))
    fwd.release({ holdFrames: true }) // the first recover waits in the forwarder
    const c = client(fwd.url, { deviceId: 'phone-5' })
    const got = record(c, 'tick')
    const connected = c.connect()
    await fwd.upgraded()
    // Pushed to the connection before roomgate reads the client's recover: it reaches the client first.
    expect((await broadcast(g, 'tick', { device_ids: ['phone-5'] }, { kind: 'device', n: 1 })).delivered).toBe(1)
    expect((await broadcast(g, 'tick', { all: true }, { kind: 'all', n: 1 })).delivered).toBe(1)
    fwd.releaseFrames()
    await connected
    await broadcast(g, 'tick', { device_ids: ['phone-5'] }, { kind: 'device', n: 2 })
    await waitFor(() => got.some((x) => x.n === 2), WAIT_MS, 'the live event after connecting')
    expect(got.map((x) => `${x.kind}${x.n}@${x.offset}`)).toEqual(['device1@1', 'all1@1', 'device2@2'])
  })

  it('calls onResync for a stream whose missed events were trimmed from the history', async () => {
    const g = await gate({ realtime: { history: { size: 2 } } })
    const fwd = await forwarder(portOf(g))
    const c = client(fwd.url, { deviceId: 'phone-3' })
    const got = record(c, 'tick')
    const resyncs: string[] = []
    c.onResync((stream) => resyncs.push(stream))
    await c.connect()
    await broadcast(g, 'tick', { device_ids: ['phone-3'] }, { kind: 'device', n: 1 })
    await waitFor(() => got.length === 1, WAIT_MS, 'the first event')

    // Away: the forwarder points at a dead port, the client keeps trying.
    fwd.switchTo(await freePort())
    await waitFor(() => fwd.piped.length >= 3, WAIT_MS, 'two failed reconnects')
    expect(c.currentState).toBe('reconnecting')
    for (let n = 2; n <= 6; n++) await broadcast(g, 'tick', { device_ids: ['phone-3'] }, { kind: 'device', n })
    fwd.switchTo(portOf(g))
    await waitFor(() => resyncs.length > 0, WAIT_MS, 'onResync')
    expect(resyncs).toEqual(['device:phone-3'])
    await waitFor(() => c.currentState === 'connected', WAIT_MS, 'the reconnect')

    // Nothing replayed for it; live again from the position the server gave.
    await broadcast(g, 'tick', { device_ids: ['phone-3'] }, { kind: 'device', n: 7 })
    await waitFor(() => got.length === 2, WAIT_MS, 'the next live event')
    expect(got.map((x) => [x.n, x.offset])).toEqual([
      [1, 1],
      [7, 7],
    ])
    expect(resyncs).toEqual(['device:phone-3'])
  }, 60_000)

  it('refreshes an expiring token through the token function without dropping the connection or an event', async () => {
    const key = new Uint8Array(Buffer.from(SECRET))
    let calls = 0
    const newToken = () => {
      calls++
      return new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('phone-4')
        .setExpirationTime(Math.floor(Date.now() / 1000) + 3)
        .sign(key)
    }
    const g = await gate(
      { auth: { internalToken: TOKEN, devices: { hmacSecrets: [{ secretEnv: 'DEVICE_JWT_SECRET' }], leewaySeconds: 0 } } },
      { DEVICE_JWT_SECRET: SECRET },
    )
    const c = client(`${g.wsUrl}/ws`, { token: async () => newToken() })
    const seen = states(c)
    const got = record(c, 'tick')
    await c.connect()
    expect(calls).toBe(1)

    // Broadcasts go on until two refreshes happened: the second comes after the first token's expiry.
    let n = 0
    while (calls < 3) {
      n++
      await broadcast(g, 'tick', { device_ids: ['phone-4'] }, { kind: 'device', n })
      await waitFor(() => got.length === n, WAIT_MS, `event ${n}`)
      await sleep(100)
      expect(n).toBeLessThan(300)
    }
    n++
    await broadcast(g, 'tick', { device_ids: ['phone-4'] }, { kind: 'device', n })
    await waitFor(() => got.length === n, WAIT_MS, 'the last event')

    expect(got.map((x) => x.n)).toEqual(range(1, n))
    expect(got.map((x) => x.offset)).toEqual(range(1, n))
    expect(calls).toBeGreaterThanOrEqual(3)
    expect(seen).toEqual(['connecting', 'connected'])
    expect(c.currentState).toBe('connected')
  }, 60_000)
})
