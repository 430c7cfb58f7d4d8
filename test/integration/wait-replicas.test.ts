/**
 * `redis.waitReplicas` on one Redis: a job's creation and a new room's
 * placement are acknowledged only once a replica holds them (WAIT), and
 * answer 503 naming the shortfall when no replica confirms in time.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { request } from 'undici'
import { closeGates, startGate, type TestGate } from '../helpers/gate.js'
import { jobsApi, KEY, tempRoot, type TempRoot } from '../helpers/job-files.js'
import { RedisServer } from '../helpers/redis-server.js'
import { FakeGateways } from '../helpers/gateways.js'
import { freePort, waitFor } from '../helpers/ports.js'

const master = new RedisServer()
const dir = mkdtempSync(join(tmpdir(), 'roomgate-wait-'))
let replica: ChildProcess | undefined
let root: TempRoot
let gws: FakeGateways

beforeAll(async () => {
  await master.start()
})
afterAll(async () => {
  replica?.kill('SIGKILL')
  await master.stop()
  rmSync(dir, { recursive: true, force: true })
})
beforeEach(async () => {
  root = await tempRoot()
  await root.file('a.bin', 10)
  gws = await new FakeGateways(['127.0.0.2']).start()
})
afterEach(async () => {
  await closeGates()
  await root.remove()
  await gws.close()
  const c = master.client()
  await c.flushall()
  c.disconnect()
})

/** timeoutMs: small where it is meant to pass, generous where the replica must confirm on a loaded machine. */
const gate = (timeoutMs: number) =>
  startGate(
    {
      auth: { apiKeys: [KEY], bearerTokens: [TOKEN] },
      rateLimit: { rps: 10_000, burst: 10_000 },
      jobs: { root: root.dir },
      rooms: {
        legacyPool: 'gateways',
        pools: {
          gateways: {
            strategy: 'exclusive',
            nodes: ['127.0.0.2'],
            progressUrl: `http://{node}:${gws.port}/progress?room={room}`,
            startUrl: `http://{node}:${gws.port}/start?room={room}`,
            stopUrl: `http://{node}:${gws.port}/stop?room={room}`,
            monitorIntervalMs: 60_000,
          },
        },
      },
      redis: { commandTimeoutMs: 2 * timeoutMs, waitReplicas: { replicas: 1, timeoutMs } },
    },
    { REDIS_URL: master.url },
  )

const TOKEN = 'wait-token'

async function start(g: TestGate, room: string) {
  const res = await request(`${g.url}/start?room=${room}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> }
}

async function place(g: TestGate, room: string) {
  const res = await request(`${g.url}/v2/room_server`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ room }),
  })
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> }
}

describe('redis.waitReplicas', () => {
  it('answers 503 when no replica confirms the write, naming the shortfall', async () => {
    const g = await gate(200)
    const created = await jobsApi(g.url).create({ files: ['a.bin'] })
    expect(created.status).toBe(503)
    expect(created.body).toEqual({
      success: false,
      code: 'engine_unavailable',
      error: 'Redis applied the change but only 0 of 1 replicas confirmed it in time: a failover could lose it',
    })
    expect(await place(g, 'r1')).toMatchObject({ status: 503, body: { code: 'engine_unavailable' } })
    // Applied but not confirmed: a retry is not acknowledged either.
    expect(await place(g, 'r1')).toMatchObject({ status: 503, body: { code: 'engine_unavailable' } })
    // A seed 000 start that is not confirmed is undone: no mapping, its gateway free and never told.
    expect(await start(g, 'math101')).toMatchObject({ status: 503, body: { code: 'engine_unavailable' } })
    const c = master.client()
    expect(await c.get('room:math101')).toBeNull()
    expect(await c.hgetall('rg:xnodes:gateways')).toEqual({})
    c.disconnect()
    expect(gws.calls.filter((x) => x.path === '/start')).toEqual([])
  })

  it('acknowledges once a replica holds the write', async () => {
    const port = await freePort()
    replica = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--replicaof', '127.0.0.1', String(master.port)],
      { stdio: 'ignore' },
    )
    const r = new Redis({ port, lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: 0 })
    r.on('error', () => undefined)
    try {
      await waitFor(async () => (await r.info('replication').catch(() => '')).includes('master_link_status:up'), 20_000, 'the replica to sync')
    } finally {
      r.disconnect()
    }
    const g = await gate(10_000)
    const created = await jobsApi(g.url).create({ files: ['a.bin'] })
    expect(created.status).toBe(201)
    expect(await place(g, 'r2')).toEqual({ status: 200, body: { janus: 'gxy1' } })
    expect(await place(g, 'r2')).toEqual({ status: 200, body: { janus: 'gxy1' } })
    expect(await start(g, 'math101')).toMatchObject({ status: 200, body: { gateway: '127.0.0.2' } })
    expect(gws.calls.filter((x) => x.path === '/start')).toHaveLength(1)
  })
})
