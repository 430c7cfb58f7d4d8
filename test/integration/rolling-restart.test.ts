/**
 * A rolling restart (issue 15) of two real roomgate processes on one Redis,
 * behind a TCP forwarder that spreads connections over both in turn, like a
 * load balancer without health checks (a connection to an instance that is
 * going or gone fails, and the client tries again). Twenty device clients
 * (roomgate/client) are connected, two thirds of them in one of two rooms,
 * and one broadcast to every device, both rooms and `all` goes out every few
 * milliseconds, each with its sequence number. A gets SIGTERM: it exits 0,
 * its clients are told 1012 and come back through B while the broadcasts go
 * on; then A is started again and B gets SIGTERM, and every client moves to
 * A. In the end every client has every event of each of its streams once, in
 * order, with offsets 1…N: nothing was lost or doubled across the restarts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { WebSocket } from 'ws'
import { RoomgateClient, type SocketConstructor } from '../../src/client/index.js'
import { roundRobin, startForwarder, type ForwardedConnection, type Forwarder } from '../helpers/forwarder.js'
import { freePort, sleep, waitFor } from '../helpers/ports.js'
import { runCli, type RunningCli } from '../helpers/process.js'
import { RedisServer } from '../helpers/redis-server.js'

const TOKEN = 't'
/** Generous: every wait is for something observable, and a loaded 2-core CI machine is slow. */
const WAIT_MS = 30_000
const DEVICES = 20
const ROOMS = ['blue', 'green']
/** The pause between two broadcasts (each also waits for the previous one's answer). */
const PACE_MS = 20
/** Broadcasts sent after every client is back, before the next step. */
const AFTER_BACK = 10

const redis = new RedisServer()
const dir = mkdtempSync(join(tmpdir(), 'roomgate-rolling-'))
const config = join(dir, 'roomgate.yaml')
const running: RunningCli[] = []
const clients: RoomgateClient[] = []
const forwarders: Forwarder[] = []

beforeAll(async () => {
  await redis.start()
  writeFileSync(
    config,
    [
      `auth: { internalToken: "${TOKEN}" }`,
      // Every connection comes from the forwarder's address: no per-IP limit may get in the way.
      'rateLimit: { rps: 100000, burst: 100000 }',
      // Room for everything a client may miss while it moves, however slow the machine.
      'realtime: { history: { size: 10000 } }',
      'shutdown: { drainTimeoutMs: 10000 }',
    ].join('\n'),
  )
})
afterAll(async () => {
  await redis.stop()
  rmSync(dir, { recursive: true, force: true })
})
afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  await Promise.all(forwarders.splice(0).map((f) => f.close()))
  await Promise.all(
    running.splice(0).map(async (r) => {
      if (r.proc.exitCode !== null || r.proc.signalCode !== null) return
      r.proc.kill('SIGKILL')
      await r.exited
    }),
  )
})

interface Instance {
  name: string
  port: number
  url: string
  cli: RunningCli
}

async function startInstance(name: string, port: number): Promise<Instance> {
  const cli = runCli(['start', '--config', config], { PORT: String(port), HOST: '127.0.0.1', REDIS_URL: redis.url })
  running.push(cli)
  await cli.waitForLine('roomgate listening', WAIT_MS)
  return { name, port, url: `http://127.0.0.1:${port}`, cli }
}

/** Resolves with the exit code, or fails after `ms`. */
async function exitOf(instance: Instance, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${instance.name} did not exit in ${ms} ms\n${instance.cli.stdout.join('\n')}`)), ms)
  })
  try {
    return await Promise.race([instance.cli.exited, late])
  } finally {
    clearTimeout(timer)
  }
}

/** The value of a counter without labels in an instance's /metrics. */
async function counter(instance: Instance, name: string): Promise<number> {
  const text = await (await request(`${instance.url}/metrics`)).body.text()
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line ? Number(line.split(' ')[1]) : 0
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** A close of one of a client's sockets, with the last `n` the application had seen on each stream then. */
interface Close {
  code: number
  at: number
  last: Map<string, number>
}

interface Device {
  id: string
  room: string | undefined
  streams: string[]
  client: RoomgateClient
  /** What the application got, per stream. */
  got: Map<string, Array<{ n: number; offset: number | undefined }>>
  closes: Close[]
  resyncs: string[]
}

function device(url: string, i: number): Device {
  const id = `phone-${String(i).padStart(2, '0')}`
  const room = i % 3 < ROOMS.length ? ROOMS[i % 3] : undefined
  const got = new Map<string, Array<{ n: number; offset: number | undefined }>>()
  const closes: Close[] = []
  // ws's WebSocket, also telling us how each socket closed (before the client hears of it).
  class Socket extends WebSocket {
    constructor(address: string) {
      super(address)
      this.addEventListener('close', (ev) => {
        closes.push({ code: ev.code, at: performance.now(), last: new Map([...got].map(([s, list]) => [s, list.at(-1)?.n ?? 0])) })
      })
    }
  }
  const client = new RoomgateClient({
    url,
    deviceId: id,
    WebSocket: Socket as unknown as SocketConstructor,
    // Away long enough for broadcasts to be stored meanwhile: what they missed must come back by `recover`.
    reconnect: { minDelayMs: 400, maxDelayMs: 1_500 },
  })
  clients.push(client)
  client.onEvent('tick', (data, meta) => {
    const stream = meta.stream ?? '(none)'
    const list = got.get(stream) ?? got.set(stream, []).get(stream)!
    list.push({ n: (data as { n: number }).n, offset: meta.offset })
  })
  const resyncs: string[] = []
  client.onResync((stream) => resyncs.push(stream))
  const streams = [`device:${id}`, 'all', ...(room ? [`room:${room}`] : [])]
  return { id, room, streams, client, got, closes, resyncs }
}

/** The device a forwarded connection was for, from its upgrade request. */
function deviceOf(c: ForwardedConnection): string | null {
  const target = c.request?.split(' ')[1]
  return target ? new URL(target, 'http://x').searchParams.get('device_id') : null
}

interface Answer {
  at: number
  /** Every instance that got it reported its count: the one asked had delivered it before answering. */
  confirmed: boolean
}

/** One broadcast after another to every device, both rooms and `all`, through `via`, until `stop`. */
function broadcasts(ids: string[], first: Instance) {
  const answers: Answer[] = [] // by n (index 0 unused)
  let via = first
  let sent = 0
  let lastVia = first
  let stopped = false
  let failure: Error | undefined
  const loop = (async () => {
    while (!stopped) {
      const n = sent + 1
      const to = via
      const res = await request(`${to.url}/internal/broadcast`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-internal-token': TOKEN },
        body: JSON.stringify({ event: 'tick', data: { n }, targets: { device_ids: ids, rooms: ROOMS, all: true } }),
      })
      const text = await res.body.text()
      if (res.statusCode !== 200) throw new Error(`broadcast ${n} through ${to.name}: ${res.statusCode} ${text}`)
      const body = JSON.parse(text) as { unconfirmed: number }
      answers[n] = { at: performance.now(), confirmed: body.unconfirmed === 0 }
      sent = n
      lastVia = to
      await sleep(PACE_MS)
    }
  })().catch((err: unknown) => {
    failure = err instanceof Error ? err : new Error(String(err))
  })
  return {
    answers,
    get sent() {
      return sent
    },
    get lastVia() {
      return lastVia
    },
    set via(instance: Instance) {
      via = instance
    },
    /** Throws what stopped the broadcasts, if anything did. */
    check() {
      if (failure) throw failure
    },
    async stop() {
      stopped = true
      await loop
      if (failure) throw failure
    },
  }
}

describe('rolling restart', () => {
  it('moves every client of an instance that gets SIGTERM to the other one, and each gets every event of its streams once, in order', async () => {
    const [portA, portB] = [await freePort(), await freePort()]
    const [a, b] = await Promise.all([startInstance('A', portA), startInstance('B', portB)])
    const fwd = await startForwarder(roundRobin([portA, portB]))
    forwarders.push(fwd)

    const devices = range(1, DEVICES).map((i) => device(fwd.url, i))
    await Promise.all(
      devices.map(async (d) => {
        await d.client.connect()
        if (d.room) await d.client.join(d.room, `user-${d.id}`)
      }),
    )
    const bc = broadcasts(
      devices.map((d) => d.id),
      b,
    )
    const until = <T>(check: () => T, what: string) =>
      waitFor(
        () => {
          bc.check()
          return check()
        },
        WAIT_MS,
        what,
      )
    /** The instance port of each device's last connection that upgraded. */
    const onPort = (d: Device) => fwd.connections.findLast((c) => c.status === 101 && deviceOf(c) === d.id)?.target
    /** Events of `d`'s streams that must have come through the survivor's `recover` after the close `since`. */
    const mustReplay = (d: Device, since: Close) => {
      const next = fwd.connections.find((c) => c.at > since.at && c.status === 101 && deviceOf(c) === d.id)!
      let count = 0
      for (const stream of d.streams) {
        // Stored before the new connection existed, and not seen on the old one: only a replay can bring it.
        for (let n = (since.last.get(stream) ?? 0) + 1; n <= bc.sent; n++) {
          const answer = bc.answers[n]!
          if (answer.at < next.at && answer.confirmed) count++
        }
      }
      return count
    }

    /** SIGTERM `victim` while broadcasts flow through `survivor`; its clients must all come back through `survivor`. */
    const restart = async (victim: Instance, survivor: Instance) => {
      bc.via = survivor
      const switched = bc.sent
      await until(() => bc.lastVia === survivor && bc.sent > switched + 1, `broadcasts through ${survivor.name}`)
      // Broadcasts are flowing and everyone is receiving them.
      const mark = bc.sent
      await until(() => devices.every((d) => (d.got.get('all')?.at(-1)?.n ?? 0) >= mark), `every client to get broadcast ${mark}`)
      const moving = devices.filter((d) => onPort(d) === victim.port)
      const staying = devices.filter((d) => onPort(d) === survivor.port)
      expect(moving.length, `clients on ${victim.name}`).toBeGreaterThan(0)
      expect(moving.length + staying.length).toBe(DEVICES)
      const closesBefore = new Map(devices.map((d) => [d, d.closes.length]))

      victim.cli.proc.kill('SIGTERM')
      expect(await exitOf(victim, WAIT_MS)).toBe(0)
      expect(victim.cli.stdout.some((l) => l.includes('roomgate stopped'))).toBe(true)

      const closedBy = (d: Device) => d.closes.slice(closesBefore.get(d)).find((c) => c.code === 1012)
      await until(
        () => moving.every((d) => closedBy(d) && d.client.currentState === 'connected' && onPort(d) === survivor.port),
        `the clients of ${victim.name} to be back through ${survivor.name}`,
      )
      const back = bc.sent
      await until(() => bc.sent >= back + AFTER_BACK, `${AFTER_BACK} broadcasts after every client is back`)

      for (const d of moving) {
        // Told "service restart" once; any other close is a failed attempt (refused, or 503 while draining).
        const closes = d.closes.slice(closesBefore.get(d)!)
        expect(closes.filter((c) => c.code === 1012), d.id).toHaveLength(1)
        expect(closes.every((c) => c.code === 1012 || c.code === 1006), `${d.id}: ${closes.map((c) => c.code).join(',')}`).toBe(true)
      }
      // The survivor's clients were not disturbed.
      for (const d of staying) expect(d.closes.length, d.id).toBe(closesBefore.get(d))
      expect(devices.every((d) => d.client.currentState === 'connected' && onPort(d) === survivor.port)).toBe(true)

      // What was stored while they moved came back through the survivor's recover.
      const replays = moving.reduce((sum, d) => sum + mustReplay(d, closedBy(d)!), 0)
      const replayed = await counter(survivor, 'roomgate_ws_replayed_total')
      expect(replayed).toBeGreaterThanOrEqual(replays)
      if (replays === 0) console.warn(`rolling restart: no event provably fell between ${victim.name}'s close and the reconnect`)
      return { moved: moving.length, replays, replayed }
    }

    const first = await restart(a, b)
    const a2 = await startInstance('A again', portA)
    const second = await restart(b, a2)
    expect(second.moved).toBe(DEVICES)
    await bc.stop()

    // Every event of every stream, once, in order, offsets without a gap.
    const N = bc.sent
    await until(
      () => devices.every((d) => d.streams.every((s) => (d.got.get(s)?.length ?? 0) >= N)),
      `every client to have all ${N} events on each of its streams`,
    )
    for (const d of devices) {
      expect([...d.got.keys()].sort(), d.id).toEqual([...d.streams].sort())
      for (const s of d.streams) {
        const list = d.got.get(s)!
        expect(
          list.map((x) => x.n),
          `${d.id} ${s}`,
        ).toEqual(range(1, N))
        expect(
          list.map((x) => x.offset),
          `${d.id} ${s}`,
        ).toEqual(range(1, N))
      }
      expect(d.resyncs, d.id).toEqual([])
    }
    const unconfirmed = bc.answers.filter((x) => !x.confirmed).length
    console.log(
      `rolling restart: ${N} broadcasts (${unconfirmed} unconfirmed); A→B moved ${first.moved} (replays needed ≥ ${first.replays}, ` +
        `replayed ${first.replayed}); B→A moved ${second.moved} (≥ ${second.replays}, replayed ${second.replayed})`,
    )
  }, 180_000)
})
