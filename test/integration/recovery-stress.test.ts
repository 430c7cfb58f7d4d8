/**
 * A randomized, reproducible stress of history and `recover` (README "Streams,
 * offsets and recovery"): devices in rooms, broadcasts racing one another, and
 * devices that drop and come back (on the memory engine, and on Redis to either
 * of two instances). Every device is modelled as an application would keep it:
 * per stream its last offset; a frame at or below an offset it already has is a
 * duplicate, a live frame past last+1 is a gap. While a stream is recovered
 * (from the new connection's open to the `recover` answer) live events that
 * came before the request was handled may precede the replay: there we check
 * what is promised, i.e. a consecutive run of live events, then the replay and
 * the held events in ascending order, and, at the answer, every offset up to
 * the answer's position received exactly once.
 *
 * The seed is in the test name; rerun one with RECOVERY_STRESS_SEED=<seed>.
 */
import { describe, expect, it } from 'vitest'
import { request } from 'undici'
import { WebSocket } from 'ws'
import { startGate, type TestGate } from '../helpers/gate.js'
import { redisSuite } from '../helpers/redis-suite.js'

const { redis } = redisSuite()
const TOKEN = 't'
const SEED = process.env.RECOVERY_STRESS_SEED ? Number(process.env.RECOVERY_STRESS_SEED) : Math.floor(Math.random() * 2 ** 31)

const DEVICES = 6
const ROOMS = ['r0', 'r1', 'r2']
const BROADCASTS = 300
const IN_FLIGHT = 4
/** Chance, per broadcast, that a device drops and comes back. */
const RECONNECT_CHANCE = 0.1
/** Chance, per broadcast, that a connected device recovers on its live connection. */
const RESYNC_CHANCE = 0.03
const ANSWER_TIMEOUT_MS = 5_000

type Engine = 'memory' | 'redis'
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Frame = Record<string, any>
interface Targets {
  device_ids?: string[]
  rooms?: string[]
  all?: true
}

/** mulberry32: small, seedable, good enough to pick a plan. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Step {
  via: number
  targets: Targets
  streams: string[]
  /** Before this broadcast: this device drops, stays away for `away` broadcasts, and comes back on instance `to`. */
  reconnect?: { device: number; to: number; away: number }
  /** Before this broadcast: this device sends `recover` on its live connection (an application's resync). */
  resync?: number
}

interface Plan {
  rooms: string[][]
  start: number[]
  steps: Step[]
}

function makePlan(seed: number): Plan {
  const rnd = prng(seed)
  const int = (n: number) => Math.floor(rnd() * n)
  const pick = <T>(xs: readonly T[], k: number): T[] => {
    const pool = [...xs]
    const out: T[] = []
    while (out.length < k && pool.length > 0) out.push(pool.splice(int(pool.length), 1)[0]!)
    return out
  }
  const ids = Array.from({ length: DEVICES }, (_, i) => `dev${i}`)
  // Every room has a member: device i is in ROOMS[i % 3], and half of them in one more.
  const rooms = ids.map((_, i) => {
    const own = ROOMS[i % ROOMS.length]!
    const other = ROOMS.filter((r) => r !== own)
    return rnd() < 0.5 ? [own, other[int(other.length)]!] : [own]
  })
  const start = ids.map(() => int(2))
  const steps: Step[] = []
  for (let i = 0; i < BROADCASTS; i++) {
    const kind = rnd()
    const targets: Targets = {}
    if (kind < 0.35) targets.device_ids = pick(ids, 1 + int(2))
    else if (kind < 0.7) targets.rooms = pick(ROOMS, 1 + int(2))
    else if (kind < 0.85) targets.all = true
    else {
      targets.device_ids = pick(ids, 1 + int(2))
      targets.rooms = pick(ROOMS, 1)
      if (rnd() < 0.5) targets.all = true
    }
    const streams = [
      ...(targets.device_ids ?? []).map((d) => `device:${d}`),
      ...(targets.rooms ?? []).map((r) => `room:${r}`),
      ...(targets.all ? ['all'] : []),
    ]
    const step: Step = { via: int(2), targets, streams }
    if (rnd() < RECONNECT_CHANCE) step.reconnect = { device: int(DEVICES), to: int(2), away: int(3) === 0 ? 0 : 1 + int(12) }
    else if (rnd() < RESYNC_CHANCE) step.resync = int(DEVICES)
    steps.push(step)
  }
  return { rooms, start, steps }
}

/** A WebSocket client whose answers are handled synchronously, in order with the event frames. */
class Conn {
  private readonly waiting = new Map<string, (f: Frame) => void>()
  readonly closed: Promise<void>
  private seq = 0

  private constructor(
    readonly ws: WebSocket,
    onEvent: (f: Frame) => void,
    onStray: (f: Frame) => void,
  ) {
    ws.on('message', (raw: Buffer) => {
      const f = JSON.parse(raw.toString('utf8')) as Frame
      if (f.type === 'event') return onEvent(f)
      const answer = typeof f.request_id === 'string' ? this.waiting.get(f.request_id) : undefined
      if (!answer) return onStray(f)
      this.waiting.delete(f.request_id as string)
      answer(f)
    })
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()))
  }

  static open(url: string, onEvent: (f: Frame) => void, onStray: (f: Frame) => void): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url)
      const conn = new Conn(ws, onEvent, onStray)
      ws.once('open', () => resolve(conn))
      ws.once('error', reject)
    })
  }

  /** Sends an event; `onAnswer` runs as the answer arrives, before any later frame is handled. */
  call(event: string, data: unknown, onAnswer: (f: Frame) => void = () => {}): Promise<Frame> {
    const id = `q${++this.seq}`
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id)
        reject(new Error(`no answer to ${event} within ${ANSWER_TIMEOUT_MS} ms`))
      }, ANSWER_TIMEOUT_MS)
      this.waiting.set(id, (f) => {
        clearTimeout(timer)
        onAnswer(f)
        resolve(f)
      })
      this.ws.send(JSON.stringify({ event, request_id: id, data }))
    })
  }

  close(): Promise<void> {
    this.ws.close()
    return this.closed
  }
}

interface StreamState {
  epoch: string
  /** The position the device first knew (its first `recover {}`). */
  base: number
  /** Every offset up to here was received (the position sent in `recover`). */
  last: number
  /** Offsets received, over all connections. */
  got: Set<number>
  /** While recovering: the offsets received since the new connection opened (or the recover was sent). */
  window: number[] | undefined
  /** The position the last recover answered. */
  top: number
}

interface Device {
  id: string
  rooms: string[]
  streams: Map<string, StreamState>
  conn: Conn | undefined
  instance: number
  busy: boolean
  trace: string[]
}

/** Waits on the driver's progress (broadcasts started), not on time. */
class Progress {
  private issued = 0
  private waiters: Array<{ n: number; resolve: () => void }> = []

  bump(): void {
    this.issued++
    this.waiters = this.waiters.filter((w) => (w.n <= this.issued ? (w.resolve(), false) : true))
  }

  reach(n: number): Promise<void> {
    if (n <= this.issued) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push({ n, resolve }))
  }

  finish(): void {
    this.issued = Infinity
    for (const w of this.waiters.splice(0)) w.resolve()
  }
}

async function stress(engine: Engine, seed: number): Promise<void> {
  const settings = {
    auth: { internalToken: TOKEN },
    rateLimit: { rps: 100_000, burst: 100_000 },
    realtime: { history: { size: 1000 } },
    logLevel: 'warn',
  }
  const env = engine === 'redis' ? { REDIS_URL: redis.url } : {}
  const gates: TestGate[] =
    engine === 'redis' ? await Promise.all([startGate(settings, env), startGate(settings, env)]) : await startGate(settings, env).then((g) => [g, g])
  const plan = makePlan(seed)
  const failures: string[] = []
  const progress = new Progress()
  /** What the server put at each offset of each stream (the broadcast's number), as devices saw it. */
  const atOffset = new Map<string, Map<number, number>>()
  /** The broadcasts that named each stream. */
  const expected = new Map<string, Set<number>>()
  plan.steps.forEach((s, n) => s.streams.forEach((name) => (expected.get(name) ?? expected.set(name, new Set()).get(name)!).add(n)))

  const note = (d: Device, line: string) => {
    d.trace.push(line)
    if (d.trace.length > 40) d.trace.shift()
  }
  const fail = (d: Device, what: string) => {
    if (failures.length < 20) failures.push(`[${engine} seed=${seed}] ${d.id}: ${what}\n    last steps of ${d.id}: ${d.trace.join(' | ')}`)
  }

  const onEvent = (d: Device, f: Frame) => {
    const name = f.stream as string
    const o = f.offset as number
    const n = (f.data as { n: number }).n
    note(d, `${name}#${o}`)
    const s = d.streams.get(name)
    if (!s || !Number.isInteger(o)) return fail(d, `unexpected frame ${JSON.stringify(f)}`)
    const seen = atOffset.get(name) ?? atOffset.set(name, new Map()).get(name)!
    if (seen.has(o) && seen.get(o) !== n) fail(d, `${name}#${o} is broadcast ${n} here, ${seen.get(o)} for another device`)
    seen.set(o, n)
    if (f.event !== `e${n}`) fail(d, `frame ${JSON.stringify(f)} does not match its data`)
    if (o <= s.base || s.got.has(o)) return fail(d, `DUPLICATE ${name}#${o} (last ${s.last}${s.window ? `, recovering, got since reconnect [${s.window.join(',')}]` : ''})`)
    s.got.add(o)
    if (s.window) {
      s.window.push(o)
      return
    }
    if (o !== s.last + 1) fail(d, `GAP ${name}#${o} live after #${s.last}`)
    s.last = Math.max(s.last, o)
  }

  const onStray = (d: Device, f: Frame) => fail(d, `unexpected frame ${JSON.stringify(f)}`)

  /** The first answer: the positions the device starts from. */
  const onPositions = (d: Device, r: Frame) => {
    const streams = (r.data?.streams ?? {}) as Record<string, { epoch: string; offset: number }>
    const want = [`device:${d.id}`, 'all', ...d.rooms.map((x) => `room:${x}`)].sort()
    if (r.type !== 'response' || JSON.stringify(Object.keys(streams).sort()) !== JSON.stringify(want)) {
      return fail(d, `recover {} answered ${JSON.stringify(r)}`)
    }
    for (const name of want) {
      const p = streams[name]!
      d.streams.set(name, { epoch: p.epoch, base: p.offset, last: p.offset, got: new Set(), window: undefined, top: p.offset })
    }
    note(d, `positions ${JSON.stringify(streams)}`)
  }

  /** The answer to a recover from the device's last positions. */
  const onRecovered = (d: Device, r: Frame) => {
    note(d, `answer ${JSON.stringify(r.data?.streams ?? r)}`)
    if (r.type !== 'response') return fail(d, `recover answered ${JSON.stringify(r)}`)
    const streams = r.data.streams as Record<string, { recovered: boolean; epoch: string; offset: number }>
    for (const [name, s] of d.streams) {
      const a = streams[name]
      const window = s.window ?? []
      s.window = undefined
      if (!a || a.recovered !== true || a.epoch !== s.epoch) {
        fail(d, `${name}: recover from ${s.epoch}#${s.last} answered ${JSON.stringify(a)}`)
        continue
      }
      // Live events from before the hold: one consecutive run; then the replay and the held events, ascending.
      let i = 1
      while (i < window.length && window[i] === window[i - 1]! + 1) i++
      for (let j = i + 1; j < window.length; j++) {
        if (window[j]! <= window[j - 1]!) {
          fail(d, `${name}: out of order while recovering from #${s.last}: [${window.join(',')}] (answer #${a.offset})`)
          break
        }
      }
      const top = Math.max(a.offset, s.last, ...window)
      const missing: number[] = []
      for (let o = s.last + 1; o <= top; o++) if (!s.got.has(o)) missing.push(o)
      if (missing.length > 0) {
        fail(d, `LOSS ${name}: recovering from #${s.last}, answered #${a.offset}, never got [${missing.join(',')}] (got since reconnect [${window.join(',')}])`)
      }
      s.last = top
      s.top = a.offset
    }
    for (const name of Object.keys(streams)) if (!d.streams.has(name)) fail(d, `recover answered a stream not asked: ${name}`)
  }

  const recover = async (d: Device): Promise<void> => {
    const since: Record<string, { epoch: string; offset: number }> = {}
    for (const [name, s] of d.streams) {
      since[name] = { epoch: s.epoch, offset: s.last }
      s.window ??= []
    }
    note(d, `recover ${JSON.stringify(since)}`)
    await d.conn!.call('recover', { since }, (r) => onRecovered(d, r))
  }

  /** Opens a connection on instance `to`, rejoins the rooms, then recovers (or, the first time, asks its positions). */
  const attach = async (d: Device, to: number, first: boolean): Promise<void> => {
    if (!first) for (const s of d.streams.values()) s.window = []
    d.instance = to
    note(d, `connect to ${to ? 'B' : 'A'}`)
    d.conn = await Conn.open(
      `${gates[to]!.wsUrl}/ws?device_id=${d.id}`,
      (f) => onEvent(d, f),
      (f) => onStray(d, f),
    )
    for (const room of d.rooms) {
      const r = await d.conn.call('room.join', { room })
      if (r.type !== 'response') fail(d, `room.join ${room} answered ${JSON.stringify(r)}`)
    }
    note(d, 'joined')
    if (first) await d.conn.call('recover', {}, (r) => onPositions(d, r))
    else await recover(d)
  }

  let reconnects = 0
  const reconnect = async (d: Device, to: number, back: number): Promise<void> => {
    d.busy = true
    reconnects++
    try {
      note(d, 'close')
      await d.conn!.close()
      await progress.reach(back)
      await attach(d, to, false)
    } catch (err) {
      fail(d, `reconnect failed: ${(err as Error).message}`)
    } finally {
      d.busy = false
    }
  }

  const resync = async (d: Device): Promise<void> => {
    d.busy = true
    try {
      await recover(d)
    } catch (err) {
      fail(d, `recover on the live connection failed: ${(err as Error).message}`)
    } finally {
      d.busy = false
    }
  }

  const broadcast = async (n: number, step: Step): Promise<void> => {
    const res = await request(`${gates[step.via]!.url}/internal/broadcast`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-internal-token': TOKEN },
      body: JSON.stringify({ event: `e${n}`, data: { n }, targets: step.targets }),
    })
    const body = await res.body.text()
    if (res.statusCode !== 200) failures.push(`[${engine} seed=${seed}] broadcast ${n} answered ${res.statusCode} ${body}`)
  }

  const devices: Device[] = plan.rooms.map((rooms, i) => ({
    id: `dev${i}`,
    rooms,
    streams: new Map(),
    conn: undefined,
    instance: 0,
    busy: false,
    trace: [],
  }))
  try {
    await Promise.all(devices.map((d, i) => attach(d, plan.start[i]!, true)))
    expect(failures).toEqual([])

    // The driver: IN_FLIGHT broadcasts at a time; the plan drops and brings back devices meanwhile.
    const chaos: Array<Promise<void>> = []
    let next = 0
    const worker = async () => {
      while (next < plan.steps.length) {
        const n = next++
        const step = plan.steps[n]!
        const r = step.reconnect
        if (r && !devices[r.device]!.busy) chaos.push(reconnect(devices[r.device]!, r.to, n + r.away))
        if (step.resync !== undefined && !devices[step.resync]!.busy) chaos.push(resync(devices[step.resync]!))
        progress.bump()
        await broadcast(n, step)
      }
    }
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
    progress.finish()
    await Promise.all(chaos)

    // Every broadcast is out (its answer waits for every instance's delivery): a last recover per device.
    await Promise.all(devices.map((d) => recover(d)))
    for (const d of devices) {
      for (const [name, s] of d.streams) {
        const count = expected.get(name)?.size ?? 0
        if (s.top - s.base !== count) fail(d, `${name}: went from #${s.base} to #${s.top} for ${count} broadcasts`)
        const extra = [...s.got].filter((o) => o <= s.base || o > s.top)
        const missing: number[] = []
        for (let o = s.base + 1; o <= s.top; o++) if (!s.got.has(o)) missing.push(o)
        if (missing.length > 0 || extra.length > 0) fail(d, `${name}: missing [${missing.join(',')}], beyond the stream [${extra.join(',')}]`)
      }
    }
    // Offsets and broadcasts match one to one on every stream.
    for (const [name, want] of expected) {
      const got = [...(atOffset.get(name)?.values() ?? [])].sort((x, y) => x - y)
      const sorted = [...want].sort((x, y) => x - y)
      if (JSON.stringify(got) !== JSON.stringify(sorted)) {
        failures.push(`[${engine} seed=${seed}] ${name}: devices got broadcasts [${got.join(',')}], it was named by [${sorted.join(',')}]`)
      }
    }
  } finally {
    await Promise.all(devices.map((d) => (d.conn ? d.conn.close() : Promise.resolve())))
  }
  expect(failures, `seed ${seed} (RECOVERY_STRESS_SEED=${seed})`).toEqual([])
  expect(reconnects).toBeGreaterThan(0)
}

describe.each<Engine>(['memory', 'redis'])('recovery under stress on the %s engine', (engine) => {
  it(`gives each device every offset of its streams exactly once, while devices drop and come back (seed ${SEED})`, async () => {
    await stress(engine, SEED)
  }, 20_000)
})
