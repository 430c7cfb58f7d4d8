/**
 * Redis Cluster failovers under two roomgate instances: the master holding a
 * capability's keys is killed (SIGKILL) and its replica takes over. While it
 * does, requests answer 2xx or 503 in the JSON error format, never a 500 and
 * never hang; after it, roomgate goes on on the promoted replica. With
 * `redis.waitReplicas`, no acknowledged job or placement is lost, even when
 * the replica that takes over had fallen behind its master.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { keyLayout } from '../../src/engine/keys.js'
import { startGate, type TestGate } from '../helpers/gate.js'
import { FakeGateways } from '../helpers/gateways.js'
import { KEY, tempRoot, type TempRoot } from '../helpers/job-files.js'
import { sleep, waitFor } from '../helpers/ports.js'
import { clusterSuite } from '../helpers/redis-suite.js'
import { TestClient } from '../helpers/ws-client.js'

const { cluster, clients } = clusterSuite()
const TOKEN = 'failover-internal-token'
const BEARER = 'failover-bearer-token'
const keys = keyLayout(true)
/** Seed 000's recording gateways: more than the test's rooms need. */
const NODES = Array.from({ length: 32 }, (_, i) => `127.0.0.${i + 2}`)
/** Longer than any answer may take, however loaded the machine: past it, a request hangs. */
const HANG_MS = 20_000

let gws: FakeGateways
let root: TempRoot
beforeEach(async () => {
  gws = await new FakeGateways(NODES).start()
  root = await tempRoot()
  await root.file('quick/f.bin', 10_000)
  for (let i = 0; i < 6; i++) await root.file(`slow/f${i}.bin`, 200_000)
})
afterEach(async () => {
  await gws.close()
  await root.remove()
  // The next test starts with three masters and three replicas again.
  await cluster.restartKilled()
})

function settings(redis: Record<string, unknown> = {}) {
  const at = `http://{node}:${gws.port}`
  return {
    auth: { internalToken: TOKEN, bearerTokens: [BEARER], apiKeys: [KEY] },
    rateLimit: { rps: 10_000, burst: 10_000 },
    redis: { cluster: { nodes: cluster.seeds }, ...redis },
    rooms: {
      legacyPool: 'gateways',
      pools: {
        gateways: { strategy: 'exclusive', nodes: NODES, startUrl: `${at}/start?room={room}`, progressUrl: `${at}/progress?room={room}`, monitorIntervalMs: 60_000 },
      },
    },
    jobs: { root: root.dir, leaseSeconds: 2, maxBytesPerSecond: 1_000_000, rateLimit: { perMinute: 100_000, readsPerMinute: 100_000 } },
  }
}

interface Answer {
  what: string
  status: number
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: Record<string, any>
}

/** One call; a request that does not answer within HANG_MS is recorded as status 0. */
async function call(g: TestGate, what: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> {
  try {
    const res = await request(`${g.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${BEARER}`,
        'x-internal-token': TOKEN,
        'x-api-key': KEY,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(HANG_MS),
    })
    return { what, status: res.statusCode, json: (await res.body.json()) as Answer['json'] }
  } catch (err) {
    return { what, status: 0, json: { hung: (err as Error).message } }
  }
}

/** What a request may answer while a master fails over: success, or a fast 503 in the JSON error format. */
const acceptable = (a: Answer) =>
  (a.status >= 200 && a.status < 300) ||
  (a.status === 503 && a.json.success === false && a.json.code === 'engine_unavailable' && typeof a.json.error === 'string' && a.json.error.length > 0)

/** The instances' error log lines, shown with a failed expectation. */
const errorLogs = (...gates: TestGate[]) => gates.flatMap((g) => g.logs.filter((l) => l.includes('"level":50'))).join('\n')

/** Everything acknowledged (2xx) so far: none of it may be lost. */
class Acknowledged {
  readonly jobs = new Set<string>()
  /** Exclusive rooms (seed 000) → gateway. */
  readonly exclusive = new Map<string, string>()
  /** Shared rooms (seed 003) → node. */
  readonly shared = new Map<string, string>()
  private n = 0

  constructor(private readonly gates: TestGate[]) {}

  private next(): TestGate {
    return this.gates[this.n++ % this.gates.length]!
  }

  async createJob(dir: string): Promise<Answer> {
    const a = await call(this.next(), 'create job', 'POST', '/api/v1/cache/jobs', { directories: [dir] })
    if (a.status === 201) this.jobs.add(a.json.jobId as string)
    return a
  }

  async startExclusive(room: string): Promise<Answer> {
    const a = await call(this.next(), `start ${room}`, 'POST', `/start?room=${room}`)
    if (a.status === 200) this.exclusive.set(room, a.json.gateway as string)
    return a
  }

  async placeShared(room: string): Promise<Answer> {
    const a = await call(this.next(), `place ${room}`, 'POST', '/v2/room_server', { room })
    if (a.status === 200) this.shared.set(room, a.json.janus as string)
    return a
  }

  /** The masters that hold what was acknowledged. */
  async masters(): Promise<number[]> {
    const names = [
      ...[...this.jobs].map((id) => keys.job(id)),
      ...[...this.exclusive.keys()].map((room) => keys.legacyRoom(room)),
      keys.exclusiveNodes('gateways'),
      keys.assignments('janus'),
    ]
    return [...new Set(await Promise.all(names.map((k) => cluster.masterOf(k))))].sort()
  }

  /** Every acknowledged job and placement, read through each instance's API. */
  async expectAllThere(): Promise<void> {
    for (const g of this.gates) {
      for (const id of this.jobs) {
        expect(await call(g, 'get job', 'GET', `/api/v1/cache/jobs/${id}`), id).toMatchObject({ status: 200, json: { job: { id } } })
      }
      for (const [room, gateway] of this.exclusive) {
        expect(await call(g, 'progress', 'GET', `/progress?room=${room}`)).toMatchObject({ status: 200, json: { room, gateway, state: 'started' } })
      }
      for (const [room, node] of this.shared) {
        expect(await call(g, 'get room', 'GET', `/rooms/${room}?pool=janus`)).toMatchObject({ status: 200, json: { room, node } })
      }
      // The pool's index lists every acknowledged room (and maybe rooms whose start answered 503): their gateways stay taken.
      const listed = (await call(g, 'status', 'GET', '/status')).json.rooms as Array<{ room: string; gateway: string }>
      const index = new Map(listed.map((r) => [r.room, r.gateway]))
      for (const [room, gateway] of this.exclusive) expect(index.get(room), room).toBe(gateway)
      expect(new Set(index.values()).size).toBe(index.size)
    }
    // One room per gateway, and seed 000's values as they were written.
    expect(new Set(this.exclusive.values()).size).toBe(this.exclusive.size)
    const client = cluster.client()
    try {
      for (const [room, gateway] of this.exclusive) expect(await client.get(`room:${room}`)).toBe(`${gateway}|started||`)
    } finally {
      client.disconnect()
    }
  }
}

/**
 * Keeps sending requests while a master fails over: one loop per kind of
 * request (a slow answer holds up only its own kind), a request every 100 ms
 * or so, every answer kept.
 */
class Prober {
  readonly answers: Answer[] = []
  private stopped = false
  private readonly loops: Array<Promise<void>>
  /** Per loop: answers in a row that were successes. */
  private readonly clean: number[]

  /** `send(n)` makes the loop's n-th request, or none (undefined). */
  constructor(sends: Array<(n: number) => Promise<Answer> | undefined>) {
    this.clean = sends.map(() => 0)
    this.loops = sends.map(async (send, i) => {
      for (let n = 0; !this.stopped; n++) {
        const answer = await send(n)
        if (answer) this.answers.push(answer)
        this.clean[i] = !answer || answer.status < 300 ? this.clean[i]! + 1 : 0
        await sleep(100)
      }
    })
  }

  /** Waits until every kind of request succeeded twice in a row, then stops. */
  async settle(timeoutMs: number): Promise<void> {
    await waitFor(() => this.clean.every((c) => c >= 2), timeoutMs, `every request to succeed again; last answers: ${JSON.stringify(this.answers.slice(-5))}`)
    this.stopped = true
    await Promise.all(this.loops)
  }
}

async function watcher(g: TestGate, device: string): Promise<TestClient> {
  const c = await TestClient.connect(`${g.wsUrl}/ws?device_id=${device}`)
  clients.push(c)
  return c
}

/** A broadcast to `device` through `g` that reaches it (retried while the cluster settles). */
async function broadcastReaches(g: TestGate, device: TestClient, deviceId: string, event: string): Promise<void> {
  await waitFor(
    async () => {
      const a = await call(g, 'broadcast', 'POST', '/internal/broadcast', { event, data: {}, targets: { device_ids: [deviceId] } })
      expect(acceptable(a), JSON.stringify(a)).toBe(true)
      return a.status === 200 && a.json.delivered === 1 && a.json.instances === 2
    },
    30_000,
    `a broadcast of ${event} to reach ${deviceId}`,
  )
  expect(await device.next((m) => m.event === event, 10_000)).toMatchObject({ type: 'event', event, stream: `device:${deviceId}` })
}

describe('failover with redis.waitReplicas', () => {
  it('loses no acknowledged job or placement when the masters holding them fail over, answering 503 meanwhile, and goes on on the promoted replicas', async () => {
    const wait = { waitReplicas: { replicas: 1, timeoutMs: 500 } }
    const [a, b] = await Promise.all([startGate(settings(wait), {}), startGate(settings(wait), {})])
    const acked = new Acknowledged([a, b])
    const device = await watcher(b, 'watcher')

    for (let i = 0; i < 4; i++) expect((await acked.createJob('slow')).status).toBe(201)
    for (let i = 0; i < 4; i++) expect((await acked.startExclusive(`exclusive-${i}`)).status).toBe(200)
    for (let i = 0; i < 6; i++) expect((await acked.placeShared(`shared-${i}`)).status).toBe(200)
    await broadcastReaches(a, device, 'watcher', 'before')

    const masters = await acked.masters()
    expect(masters.length).toBeGreaterThan(0)
    for (const [k, port] of masters.entries()) {
      // Writes and reads of every kind, on both instances, all through the failover.
      const prober = new Prober([
        () => acked.createJob('quick'),
        (n) => acked.placeShared(`during-${k}-${n}`),
        // Each start takes a gateway for good: a few per failover.
        (n) => (n < 6 ? acked.startExclusive(`during-${k}-${n}`) : undefined),
        (n) => call(a, 'broadcast', 'POST', '/internal/broadcast', { event: `during-${k}-${n}`, data: {}, targets: { device_ids: ['watcher'] } }),
        () => call(b, 'progress', 'GET', '/progress?room=exclusive-0'),
      ])
      await cluster.killMaster(port)
      // The promoted replica has no replica of its own: its writes cannot be confirmed (503) until the
      // killed node is back, as its replica.
      await cluster.restartKilled()
      await prober.settle(60_000)
      expect(prober.answers.filter((x) => !acceptable(x)), errorLogs(a, b)).toEqual([])
      await acked.expectAllThere()
    }
    const now = await cluster.masters()
    for (const port of masters) expect(now).not.toContain(port)

    // After the failovers: new jobs, placements and broadcasts on the promoted replicas.
    expect((await acked.createJob('quick')).status).toBe(201)
    expect((await acked.startExclusive('after')).status).toBe(200)
    expect((await acked.placeShared('after')).status).toBe(200)
    await broadcastReaches(a, device, 'watcher', 'after')
    await acked.expectAllThere()

    // Every acknowledged job runs to its end, each file counted once.
    for (const id of acked.jobs) {
      const job = await waitFor(
        async () => {
          const j = (await call(a, 'get job', 'GET', `/api/v1/cache/jobs/${id}`)).json.job
          return j?.status === 'completed' ? j : undefined
        },
        60_000,
        `job ${id} to complete`,
      )
      expect(job.progress.files.completed).toBe(job.progress.files.total)
      expect(job.progress.files.failed).toBe(0)
    }
  })
})

describe('failover with redis.waitReplicas and a replica behind', () => {
  it("acknowledges no placement its pool's master alone holds, so a failover to a lagging replica loses none", async () => {
    const wait = { waitReplicas: { replicas: 1, timeoutMs: 500 } }
    const [a, b] = await Promise.all([startGate(settings(wait), {}), startGate(settings(wait), {})])
    const acked = new Acknowledged([a, b])
    // The exclusive pool's index (which node each room holds) and the rooms' mappings on other masters.
    const poolMaster = await cluster.masterOf(keys.exclusiveNodes('gateways'))
    const rooms: string[] = []
    for (let i = 0; rooms.length < 3; i++) if ((await cluster.masterOf(keys.legacyRoom(`lag-${i}`))) !== poolMaster) rooms.push(`lag-${i}`)

    // The master's replica stops reading; a big write ahead of ours keeps the rest of the
    // replication stream in the master's buffers, where the kill loses it.
    const replica = await cluster.replicaOf(poolMaster)
    const client = cluster.client()
    await client.ping()
    const answers: Answer[] = []
    cluster.pause(replica)
    try {
      await client.set('rg:filler:{gateways}', Buffer.alloc(32 * 1024 * 1024, 1))
      for (const room of rooms) answers.push(await acked.startExclusive(room))
      answers.push(await acked.placeShared('lag-shared'), await acked.createJob('quick'))
      await cluster.kill(poolMaster)
    } finally {
      cluster.resume(replica)
      client.disconnect()
    }
    expect(answers.filter((x) => !acceptable(x)), errorLogs(a, b)).toEqual([])
    await cluster.failedOver(poolMaster)
    await cluster.restartKilled()

    // Later starts must not be given a node an acknowledged room holds.
    for (const room of ['after-1', 'after-2']) {
      await waitFor(async () => {
        const answer = await acked.startExclusive(room)
        expect(acceptable(answer), `${JSON.stringify(answer)}\n${errorLogs(a, b)}`).toBe(true)
        return answer.status === 200
      }, 30_000, `a start of ${room} to succeed`)
    }
    await acked.expectAllThere()
  })
})

describe('failover without redis.waitReplicas', () => {
  it('goes on on the promoted replica: jobs, placements and broadcasts work again', async () => {
    const [a, b] = await Promise.all([startGate(settings(), {}), startGate(settings(), {})])
    const acked = new Acknowledged([a, b])
    const device = await watcher(b, 'watcher')
    expect((await acked.placeShared('before')).status).toBe(200)
    expect((await acked.createJob('quick')).status).toBe(201)

    const prober = new Prober([
      () => acked.createJob('quick'),
      (n) => acked.placeShared(`during-${n}`),
      () => call(b, 'get room', 'GET', '/rooms/before'),
    ])
    await cluster.killMaster(await cluster.masterOf(keys.assignments('janus')))
    await prober.settle(60_000)
    expect(prober.answers.filter((x) => !acceptable(x)), errorLogs(a, b)).toEqual([])

    expect((await acked.createJob('quick')).status).toBe(201)
    expect((await acked.placeShared('after')).status).toBe(200)
    expect((await acked.startExclusive('after')).status).toBe(200)
    await broadcastReaches(a, device, 'watcher', 'after')
  })
})
