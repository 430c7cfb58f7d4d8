/**
 * Several roomgate instances on one real Redis Cluster (three masters with a
 * replica each): cross-instance broadcasts, placement races, job claims and
 * hand-overs, leader loops, status pollers and recovery streams, as the
 * single-Redis tests check them (cluster.test.ts, rooms-legacy.test.ts,
 * rooms-server.test.ts, jobs-cluster.test.ts, leader-loop.test.ts,
 * status-cluster.test.ts, recovery.test.ts). Failovers are in
 * redis-cluster-failover.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { createRedisEngine } from '../../src/engine/redis.js'
import { keyLayout, streamGroup } from '../../src/engine/keys.js'
import { LeaderLoop } from '../../src/loops/leader-loop.js'
import { startClientApi, type FakeClientApi } from '../helpers/client-api.js'
import { startGate, type TestGate } from '../helpers/gate.js'
import { FakeGateways } from '../helpers/gateways.js'
import { jobsApi, KEY, tempRoot, type TempRoot } from '../helpers/job-files.js'
import { silentLog } from '../helpers/log.js'
import { sleep, waitFor } from '../helpers/ports.js'
import { clusterSuite } from '../helpers/redis-suite.js'
import { SseClient } from '../helpers/sse-client.js'
import { TestClient, type Frame } from '../helpers/ws-client.js'

const { cluster, clients } = clusterSuite()
const TOKEN = 'cluster-internal-token'
const BEARER = 'cluster-bearer-token'
const keys = keyLayout(true)

/** An instance on the cluster, found from REDIS_CLUSTER_NODES; limits far above the tests' load. */
function gate(settings: Record<string, unknown> = {}): Promise<TestGate> {
  return startGate({ auth: { internalToken: TOKEN, bearerTokens: [BEARER] }, rateLimit: { rps: 10_000, burst: 10_000 }, ...settings }, cluster.env)
}

async function connect(g: TestGate, device: string): Promise<TestClient> {
  const c = await TestClient.connect(`${g.wsUrl}/ws?device_id=${device}`)
  clients.push(c)
  return c
}

async function call(g: TestGate, method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await request(`${g.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${BEARER}`, 'x-internal-token': TOKEN, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, any> }
}

const broadcast = (g: TestGate, body: unknown) => call(g, 'POST', '/internal/broadcast', body)

/** The next `n` events a client receives, as stream → offsets (in arrival order). */
async function offsets(c: TestClient, n: number): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {}
  for (let i = 0; i < n; i++) {
    const m = await c.next((x) => x.type === 'event', 10_000)
    ;(out[m.stream as string] ??= []).push(m.offset as number)
  }
  return out
}

/** Events that came beyond those awaited (none expected). */
async function extraEvents(...cs: TestClient[]): Promise<Frame[]> {
  await sleep(200)
  return cs.flatMap((c) => c.messages.filter((m) => m.type === 'event'))
}

describe('cross-instance broadcast', () => {
  it('reaches devices, a room and all on both instances once per stream, offsets 1, 2, 3, with delivered and instances right', async () => {
    const [a, b] = await Promise.all([gate(), gate()])
    expect(a.engine.kind).toBe('redis')
    const alice = await connect(a, 'alice') // her device, the room, all
    const bob = await connect(b, 'bob') // the room, all
    const carolOnA = await connect(a, 'carol') // her device (on both instances), all
    const carolOnB = await connect(b, 'carol')
    const dave = await connect(b, 'dave') // all only
    expect((await alice.request('room.join', { room: 'lecture' })).type).toBe('response')
    expect((await bob.request('room.join', { room: 'lecture' })).type).toBe('response')

    const targets = { device_ids: ['alice', 'carol', 'nobody'], rooms: ['lecture'], all: true }
    for (let n = 1; n <= 3; n++) {
      const res = await broadcast(a, { event: 'tick', data: { n }, targets })
      expect(res).toEqual({ status: 200, json: { success: true, delivered: 3 + 2 + 2 + 2 + 1, instances: 2, unconfirmed: 0 } })
    }
    const threeEach = [1, 2, 3]
    expect(await offsets(alice, 9)).toEqual({ 'device:alice': threeEach, 'room:lecture': threeEach, all: threeEach })
    expect(await offsets(bob, 6)).toEqual({ 'room:lecture': threeEach, all: threeEach })
    for (const c of [carolOnA, carolOnB]) expect(await offsets(c, 6)).toEqual({ 'device:carol': threeEach, all: threeEach })
    expect(await offsets(dave, 3)).toEqual({ all: threeEach })
    expect(await extraEvents(alice, bob, carolOnA, carolOnB, dave)).toEqual([])

    // The other way round, to one device: B sends, A's connection gets it.
    expect((await broadcast(b, { event: 'direct', data: {}, targets: { device_ids: ['alice'] } })).json).toEqual({
      success: true,
      delivered: 1,
      instances: 2,
      unconfirmed: 0,
    })
    expect(await alice.next((m) => m.type === 'event')).toEqual({ type: 'event', event: 'direct', data: {}, stream: 'device:alice', offset: 4 })
  })

  it('sends a broadcast naming many devices as one sharded message per group of streams, each device getting it once', async () => {
    const [a, b] = await Promise.all([gate(), gate()])
    const ids = Array.from({ length: 24 }, (_, i) => `many-${i}`)
    // The precondition of the test: these streams fall in many groups (a message each).
    expect(new Set(ids.map((id) => streamGroup(`device:${id}`))).size).toBeGreaterThanOrEqual(10)
    const conns = await Promise.all(ids.map((id, i) => connect(i % 2 ? a : b, id)))

    for (let n = 1; n <= 2; n++) {
      const res = await broadcast(a, { event: 'many', data: { n }, targets: { device_ids: ids } })
      expect(res).toEqual({ status: 200, json: { success: true, delivered: 24, instances: 2, unconfirmed: 0 } })
    }
    for (const [i, c] of conns.entries()) {
      for (let n = 1; n <= 2; n++) {
        expect(await c.next((m) => m.type === 'event')).toEqual({ type: 'event', event: 'many', data: { n }, stream: `device:${ids[i]}`, offset: n })
      }
    }
    expect(await extraEvents(...conns)).toEqual([])

    // Each stream's history is in its group's slot: spread over the masters.
    const client = cluster.client()
    try {
      const masters = new Set<number>()
      for (const id of ids) {
        const meta = keys.historyMeta(`device:${id}`)
        expect(await client.hget(meta, 'top'), meta).toBe('2')
        masters.add(await cluster.masterOf(meta))
      }
      expect(masters.size).toBeGreaterThan(1)
    } finally {
      client.disconnect()
    }
  })

  it('delivers once per connection, with no stream fields, when history is off', async () => {
    const settings = { realtime: { history: { size: 0 } } }
    const [a, b] = await Promise.all([gate(settings), gate(settings)])
    const xOnA = await connect(a, 'x')
    const xOnB = await connect(b, 'x')
    const y = await connect(b, 'y')
    await xOnA.request('room.join', { room: 'r' })
    await y.request('room.join', { room: 'r' })
    // x is named as a device, in the room and by all; y in the room and by all: one frame each.
    const res = await broadcast(a, { event: 'plain', data: { v: 1 }, targets: { device_ids: ['x', 'y'], rooms: ['r'], all: true } })
    expect(res.json).toEqual({ success: true, delivered: 3, instances: 2, unconfirmed: 0 })
    for (const c of [xOnA, xOnB, y]) expect(await c.next((m) => m.type === 'event')).toEqual({ type: 'event', event: 'plain', data: { v: 1 } })
    const many = Array.from({ length: 20 }, (_, i) => `nobody-${i}`)
    const res2 = await broadcast(b, { event: 'again', data: {}, targets: { device_ids: [...many, 'x'] } })
    expect(res2.json).toEqual({ success: true, delivered: 2, instances: 2, unconfirmed: 0 })
    for (const c of [xOnA, xOnB]) expect(await c.next((m) => m.type === 'event')).toEqual({ type: 'event', event: 'again', data: {} })
    expect(await extraEvents(xOnA, xOnB, y)).toEqual([])
  })
})

describe('placement race', () => {
  const NODES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']
  let gws: FakeGateways
  beforeEach(async () => {
    gws = await new FakeGateways(NODES).start()
  })
  afterEach(async () => {
    await gws.close()
  })

  /** Seed 000's exclusive pool on the fake gateways; the monitor out of the way. */
  function legacyPool() {
    const at = `http://{node}:${gws.port}`
    return {
      rooms: {
        legacyPool: 'gateways',
        pools: {
          gateways: {
            strategy: 'exclusive',
            nodes: NODES,
            progressUrl: `${at}/progress?room={room}`,
            startUrl: `${at}/start?room={room}`,
            stopUrl: `${at}/stop?room={room}`,
            monitorIntervalMs: 60_000,
          },
        },
      },
    }
  }

  it('gives each node of an exclusive pool to exactly one room when both instances start different rooms at once; the rest are full', async () => {
    const [a, b] = await Promise.all([gate(legacyPool()), gate(legacyPool())])
    const rooms = Array.from({ length: 10 }, (_, i) => `lecture-${i}`)
    const answers = await Promise.all(rooms.map((room, i) => call(i % 2 ? a : b, 'POST', `/start?room=${room}`)))

    const started = answers.filter((r) => r.status === 200)
    expect(started.map((r) => r.json.gateway).sort()).toEqual(NODES)
    const full = answers.filter((r) => r.status !== 200)
    expect(full).toHaveLength(rooms.length - NODES.length)
    for (const r of full) expect(r).toMatchObject({ status: 503, json: { success: false, code: 'no_gateway_available', error: expect.any(String) } })

    // Every instance sees the same mappings; each gateway was told once, about its room.
    const expected = started.map((r) => ({ room: r.json.room, gateway: r.json.gateway, state: 'started', recording_duration: '', transcript_progress: '' }))
    expected.sort((x, y) => x.room.localeCompare(y.room))
    for (const g of [a, b]) expect((await call(g, 'GET', '/status')).json).toEqual({ success: true, rooms: expected })
    const starts = gws.calls.filter((c) => c.path === '/start').map((c) => `${c.node} ${c.room}`)
    expect(starts.sort()).toEqual(started.map((r) => `${r.json.gateway} ${r.json.room}`).sort())

    // Seed 000's keys keep their exact names and values on the cluster.
    const client = cluster.client()
    try {
      for (const r of started) expect(await client.get(`room:${r.json.room}`)).toBe(`${r.json.gateway}|started||`)
      for (const r of full) expect(await client.get(`room:${rooms[answers.indexOf(r)]}`)).toBeNull()
    } finally {
      client.disconnect()
    }
  })

  it('answers the same node to starts of one room racing on both instances, and tells its gateway once', async () => {
    const [a, b] = await Promise.all([gate(legacyPool()), gate(legacyPool())])
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => call(i % 2 ? a : b, 'POST', '/start?room=contested')))
    for (const r of answers) expect(r).toMatchObject({ status: 200, json: { success: true, room: 'contested', state: 'started' } })
    const node = answers[0]!.json.gateway as string
    expect(new Set(answers.map((r) => r.json.gateway))).toEqual(new Set([node]))
    expect(gws.calls.filter((c) => c.path === '/start')).toEqual([{ node, method: 'POST', path: '/start', room: 'contested' }])
    const client = cluster.client()
    try {
      expect(await client.get('room:contested')).toBe(`${node}|started||`)
    } finally {
      client.disconnect()
    }
    // The other nodes are still free, for other rooms.
    expect((await call(b, 'POST', '/start?room=next')).json.gateway).not.toBe(node)
  })

  it('places each room of a shared pool on one node when both instances place many rooms at once, and both instances agree', async () => {
    const [a, b] = await Promise.all([gate(), gate()])
    // The default pool: gxy1…gxy12. Each room is asked for through A and through B at the same time.
    const rooms = Array.from({ length: 12 }, (_, i) => `shared-${i}`)
    const answers = await Promise.all(rooms.flatMap((room) => [a, b].map((g) => call(g, 'POST', '/v2/room_server', { room }))))
    const nodeOf = new Map<string, string>()
    rooms.forEach((room, i) => {
      const [viaA, viaB] = [answers[2 * i]!, answers[2 * i + 1]!]
      expect(viaA.status).toBe(200)
      expect(viaB.json).toEqual(viaA.json)
      nodeOf.set(room, viaA.json.janus as string)
    })
    // Placed one at a time, least-loaded: twelve rooms on twelve nodes.
    expect(new Set(nodeOf.values()).size).toBe(12)
    for (const g of [a, b]) {
      for (const [room, node] of nodeOf) expect((await call(g, 'GET', `/rooms/${room}`)).json).toMatchObject({ room, node, pool: 'janus' })
    }
    const client = cluster.client()
    try {
      expect(await client.hgetall(keys.assignments('janus'))).toEqual(Object.fromEntries(nodeOf))
    } finally {
      client.disconnect()
    }

    // And over WebSocket: joins of one room on both instances at once.
    const devices = await Promise.all(Array.from({ length: 8 }, (_, i) => connect(i % 2 ? a : b, `joiner-${i}`)))
    const joins = await Promise.all(devices.map((d) => d.request('room.join', { room: 'together' })))
    expect(new Set(joins.map((j) => j.data.node)).size).toBe(1)
    expect((await call(b, 'GET', '/rooms/together')).json).toMatchObject({ users: 8, state: 'active', node: joins[0]!.data.node })
  })
})

describe('cache jobs', () => {
  let root: TempRoot
  beforeEach(async () => {
    root = await tempRoot()
  })
  afterEach(async () => {
    await root.remove()
  })

  const settings = (jobs: Record<string, unknown> = {}) => ({
    auth: { apiKeys: [KEY] },
    rateLimit: { rps: 10_000, burst: 10_000 },
    jobs: { root: root.dir, leaseSeconds: 60, rateLimit: { perMinute: 100_000, readsPerMinute: 100_000 }, ...jobs },
  })
  const startedBy = (g: TestGate, id: string) => g.logs.filter((l) => l.includes('"job started"') && l.includes(id))

  it('runs each job on exactly one of two instances', async () => {
    for (let i = 0; i < 6; i++) await root.file(`j${i}/f.bin`, 50_000)
    const [a, b] = await Promise.all([startGate(settings(), cluster.env), startGate(settings(), cluster.env)])
    const ids: string[] = []
    for (let i = 0; i < 6; i++) {
      const created = await jobsApi((i % 2 ? a : b).url).create({ directories: [`j${i}`] })
      expect(created.status).toBe(201)
      ids.push(created.body.jobId as string)
    }
    for (const id of ids) {
      await waitFor(async () => (await jobsApi(a.url).get(id)).body.job.status === 'completed', 20_000, `job ${id} to complete`)
      expect(startedBy(a, id).length + startedBy(b, id).length).toBe(1)
    }
    expect((await jobsApi(b.url).list()).body.total).toBe(6)
  })

  it('hands a job over on a graceful stop: the other instance resumes it and counts every file once', async () => {
    // 8 × 300 KB at 400 KB/s: about 6 s, far longer than the hand-over.
    for (let i = 0; i < 8; i++) await root.file(`g/f${i}.bin`, 300_000)
    const a = await startGate(settings({ maxBytesPerSecond: 400_000, concurrency: 1 }), cluster.env)
    const api = jobsApi(a.url)
    const { status, body } = await api.create({ directories: ['g'] })
    expect(status).toBe(201)
    await waitFor(async () => (await api.get(body.jobId)).body.job.progress.files.completed >= 1, 15_000, 'a file done on A')
    const b = await startGate(settings(), cluster.env)
    expect(startedBy(a, body.jobId)).toHaveLength(1)
    expect(startedBy(b, body.jobId)).toHaveLength(0)
    await a.close()
    expect(a.logs.some((l) => l.includes('job released for another instance'))).toBe(true)
    const job = await waitFor(async () => {
      const j = (await jobsApi(b.url).get(body.jobId)).body.job
      return j.status === 'completed' ? j : undefined
    }, 20_000, 'B to complete the job')
    expect(job.progress.files).toMatchObject({ completed: 8, failed: 0, total: 8 })
    expect(job.progress.size.completedBytes).toBe(8 * 300_000)
    expect(startedBy(b, body.jobId)).toHaveLength(1)
  })
})

describe('leader loops', () => {
  it('runs a loop on one instance at a time, and moves it when the leader closes', async () => {
    const nodes = cluster.seeds.map((s) => ({ host: '127.0.0.1', port: Number(s.split(':')[1]) }))
    const engines = await Promise.all(
      ['one', 'two'].map(() => createRedisEngine({ url: '', cluster: { nodes }, commandTimeoutMs: 1_000, connectTimeoutMs: 5_000 }, silentLog)),
    )
    const runs: string[] = []
    let running = 0
    let overlapped = false
    const leads: string[] = []
    const loops = engines.map(
      (e, i) =>
        new LeaderLoop({
          name: 'cluster-loop',
          intervalMs: 100,
          leases: e.leases,
          log: silentLog,
          onLead: async () => {
            leads.push(`e${i}`)
          },
          run: async () => {
            if (running++ > 0) overlapped = true
            runs.push(`e${i}`)
            await sleep(30)
            running--
          },
        }),
    )
    try {
      for (const l of loops) l.start()
      await waitFor(() => runs.length >= 5, 10_000, 'five runs')
      expect(leads).toHaveLength(1)
      const leader = Number(leads[0]!.slice(1))
      expect(new Set(runs)).toEqual(new Set([`e${leader}`]))

      // The leader closes (handing its lease back): the other one takes over.
      await loops[leader]!.close()
      const follower = `e${1 - leader}`
      await waitFor(() => runs.filter((r) => r === follower).length >= 3, 10_000, 'the other instance to lead')
      expect(leads).toEqual([`e${leader}`, follower])
      expect(overlapped).toBe(false)
    } finally {
      await Promise.all(loops.map((l) => l.close()))
      await Promise.all(engines.map((e) => e.close()))
    }
  })
})

describe('status pollers', () => {
  const apis: FakeClientApi[] = []
  const streams: SseClient[] = []
  afterEach(async () => {
    for (const c of streams.splice(0)) c.close()
    for (const x of apis.splice(0)) await x.close()
  })

  it('polls each source from one instance of the cluster, and streams its changes to SSE clients on both', async () => {
    const api = await startClientApi()
    apis.push(api)
    api.units = [{ ref: 'A', status: 'open' }, { ref: 'B', status: 'open' }]
    api.expect = { header: 'x-client-key', value: 'k-123-secret' }
    const source = {
      slug: 'tower',
      url: `${api.url}/units`,
      auth: { type: 'api_key', header: 'X-Client-Key', keyEnv: 'TOWER_KEY' },
      mapping: { sold: ['sold'] },
      pollIntervalSeconds: 1,
      cacheTtlSeconds: 1,
      timeoutSeconds: 1,
      retryCount: 0,
    }
    const env = { ...cluster.env, TOWER_KEY: 'k-123-secret' }
    const [a, b] = await Promise.all([0, 1].map(() => startGate({ rateLimit: { rps: 1000, burst: 1000 }, status: { sources: [source] } }, env)))
    const watch = async (g: TestGate) => {
      const c = await SseClient.connect(`${g.url}/api/public/tower/status/stream`)
      streams.push(c)
      await c.next((e) => e.event === 'status_update', 10_000)
      return c
    }
    const onA = await watch(a!)
    const onB = await watch(b!)

    // Both have subscribers; one leads the poller, and only it reads the client API.
    const leads = (g: TestGate) => g.logs.some((l) => l.includes('leading background loop') && l.includes('status:tower'))
    const leader = await waitFor(() => (leads(a!) ? a : leads(b!) ? b : undefined), 10_000, 'a poller')
    const follower = leader === a ? b! : a!
    const fetches = async (g: TestGate) =>
      Number(/^roomgate_status_fetches_total\{slug="tower",result="ok"\} (\d+)/m.exec(await (await request(`${g.url}/metrics`)).body.text())?.[1] ?? 0)
    const [leaderFrom, followerFrom] = [await fetches(leader), await fetches(follower)]
    await waitFor(async () => (await fetches(leader)) >= leaderFrom + 3, 15_000, 'three polls by the leader')
    expect(await fetches(follower)).toBe(followerFrom)
    expect(leads(follower)).toBe(false)

    api.units[1]!.status = 'sold'
    const [ea, eb] = await Promise.all([onA, onB].map((c) => c.next((e) => e.event === 'bulk_update', 10_000)))
    expect(ea!.data).toEqual({ updates: { B: 'sold' } })
    expect(eb!.data).toEqual({ updates: { B: 'sold' } })
    expect(ea!.id).toBe(eb!.id)
  })
})

describe('recovery streams', () => {
  type Positions = Record<string, { epoch: string; offset: number }>

  it('gives a device that left A and came back on B every event it missed, once and in order, then goes on live', async () => {
    const [a, b] = await Promise.all([gate(), gate()])
    const send = async (g: TestGate, event: string, targets: Record<string, unknown>) =>
      expect((await broadcast(g, { event, data: {}, targets })).status).toBe(200)
    const first = await connect(a, 'phone-1')
    await first.request('room.join', { room: 'math101' })
    await send(a, 'hello', { device_ids: ['phone-1'] })
    expect(await first.next((m) => m.type === 'event')).toEqual({ type: 'event', event: 'hello', data: {}, stream: 'device:phone-1', offset: 1 })
    const known = (await first.request('recover', {})).data.streams as Positions
    expect(Object.keys(known).sort()).toEqual(['all', 'device:phone-1', 'room:math101'])
    first.close()
    await first.closed

    // Missed while away, sent through the other instance: streams in different groups.
    await send(b, 'd1', { device_ids: ['phone-1'] })
    await send(b, 'r1', { rooms: ['math101'] })
    await send(b, 'all1', { all: true })
    await send(b, 'd2', { device_ids: ['phone-1'] })
    await send(b, 'r2', { rooms: ['math101'] })

    const back = await connect(b, 'phone-1')
    await back.request('room.join', { room: 'math101' })
    const id = 'rec-1'
    back.send({ event: 'recover', request_id: id, data: { since: known } })
    const response = await back.next((m) => m.request_id === id, 10_000)
    const replayed = back.messages.splice(0).filter((m) => m.type === 'event')
    const byStream = (s: string) => replayed.filter((m) => m.stream === s).map((m) => `${m.offset}:${m.event}`)
    expect(byStream('device:phone-1')).toEqual(['2:d1', '3:d2'])
    expect(byStream('room:math101')).toEqual([`${known['room:math101']!.offset + 1}:r1`, `${known['room:math101']!.offset + 2}:r2`])
    expect(byStream('all')).toEqual([`${known.all!.offset + 1}:all1`])
    expect(replayed).toHaveLength(5)
    expect(response).toMatchObject({
      type: 'response',
      data: {
        streams: {
          'device:phone-1': { recovered: true, epoch: known['device:phone-1']!.epoch, offset: 3 },
          'room:math101': { recovered: true, offset: known['room:math101']!.offset + 2 },
          all: { recovered: true, offset: known.all!.offset + 1 },
        },
      },
    })

    // Live again, with the next offsets, whichever instance sends.
    await send(a, 'd3', { device_ids: ['phone-1'] })
    expect(await back.next((m) => m.type === 'event')).toMatchObject({ event: 'd3', stream: 'device:phone-1', offset: 4 })
    expect(await extraEvents(back)).toEqual([])
  })

  it('never gives one offset twice, nor skips one, when both instances broadcast to one device at once', async () => {
    const [a, b] = await Promise.all([gate(), gate()])
    const c = await connect(b, 'target')
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => broadcast(i % 2 ? a : b, { event: `n${i}`, data: {}, targets: { device_ids: ['target'] } })))
    for (const r of answers) expect(r.json).toEqual({ success: true, delivered: 1, instances: 2, unconfirmed: 0 })
    expect((await offsets(c, 20))['device:target']).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
  })
})
