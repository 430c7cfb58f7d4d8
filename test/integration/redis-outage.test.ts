/**
 * The Redis failure policy as a contract: with Redis down, every route and
 * /ws event that needs shared state answers 503 `engine_unavailable` (never a
 * 500, never a hang), and nothing is logged as an unhandled error. Regression:
 * `POST /start` answered 500 because its room lock's lease escaped the policy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closeGates, startGate, type TestGate } from '../helpers/gate.js'
import { startClientApi, type FakeClientApi } from '../helpers/client-api.js'
import { tempRoot, type TempRoot } from '../helpers/job-files.js'
import { RedisServer } from '../helpers/redis-server.js'
import { TestClient } from '../helpers/ws-client.js'

const redis = new RedisServer()
const BEARER = { authorization: 'Bearer rooms-token' }
const KEY = { 'x-api-key': 'jobs-key' }
const INTERNAL = { 'x-internal-token': 'internal-token' }
const JOB = '6bb4629b-1c2d-4e5f-8a9b-0c1d2e3f4a5b'
let gate: TestGate
let api: FakeClientApi
let root: TempRoot

beforeAll(async () => {
  await redis.start()
  api = await startClientApi()
  api.units = [{ id: 'A-1', status: 'open' }]
  root = await tempRoot()
  await root.file('media/a.mov', 10)
  gate = await startGate(
    {
      auth: { bearerTokens: ['rooms-token'], apiKeys: ['jobs-key'], internalToken: 'internal-token' },
      rateLimit: { rps: 1000, burst: 1000 },
      rooms: {
        legacyPool: 'gateways',
        pools: { gateways: { strategy: 'exclusive', nodes: ['127.0.0.2'], progressUrl: 'http://{node}:1/progress?room={room}' } },
      },
      jobs: { root: root.dir },
      status: { sources: [{ slug: 'demo', url: `${api.url}/units`, retryCount: 0, timeoutSeconds: 1 }] },
    },
    { REDIS_URL: redis.url },
  )
  await redis.kill()
})
afterAll(async () => {
  await closeGates()
  await api.close()
  await root.remove()
  await redis.stop()
})

const json = { 'content-type': 'application/json' }
const routes: Array<{ desc: string; method: string; path: string; headers?: Record<string, string>; body?: unknown }> = [
  { desc: 'seed 000 start (room lock lease)', method: 'POST', path: '/start?room=math101', headers: BEARER },
  { desc: 'seed 000 stop', method: 'POST', path: '/stop?room=math101', headers: BEARER },
  { desc: 'seed 000 progress', method: 'GET', path: '/progress?room=math101', headers: BEARER },
  { desc: 'seed 000 status', method: 'GET', path: '/status', headers: BEARER },
  { desc: 'seed 003 placement', method: 'POST', path: '/v2/room_server', headers: json, body: { room: 2171 } },
  { desc: 'rooms listing', method: 'GET', path: '/rooms' },
  { desc: 'one room', method: 'GET', path: '/rooms/2171' },
  { desc: 'HTTP presence join', method: 'PUT', path: '/v2/rooms/2171/presence/u1' },
  { desc: 'HTTP presence leave', method: 'DELETE', path: '/v2/rooms/2171/presence/u1' },
  { desc: 'job creation', method: 'POST', path: '/api/v1/cache/jobs', headers: { ...KEY, ...json }, body: { files: ['media/a.mov'] } },
  { desc: 'job listing', method: 'GET', path: '/api/v1/cache/jobs', headers: KEY },
  { desc: 'one job', method: 'GET', path: `/api/v1/cache/jobs/${JOB}`, headers: KEY },
  { desc: 'job cancel', method: 'DELETE', path: `/api/v1/cache/jobs/${JOB}`, headers: KEY },
  { desc: 'public statuses', method: 'GET', path: '/api/public/demo/status' },
  { desc: 'public status stream', method: 'GET', path: '/api/public/demo/status/stream' },
  { desc: 'status refresh', method: 'POST', path: '/api/public/demo/status/refresh' },
  { desc: 'internal broadcast', method: 'POST', path: '/internal/broadcast', headers: { ...INTERNAL, ...json }, body: { event: 'x', data: {}, targets: { all: true } } },
  { desc: 'readiness', method: 'GET', path: '/readyz' },
]

describe('with Redis down', () => {
  it.each(routes)('$desc ($method $path) answers 503 engine_unavailable', async (r) => {
    const res = await fetch(`${gate.url}${r.path}`, {
      method: r.method,
      headers: r.headers,
      body: r.body === undefined ? undefined : JSON.stringify(r.body),
    })
    expect({ status: res.status, code: ((await res.json()) as { code?: string }).code }).toEqual({ status: 503, code: 'engine_unavailable' })
  })

  it.each([
    { desc: 'room.join', event: 'room.join', data: { room: 'r1' } },
    { desc: 'job.subscribe', event: 'job.subscribe', data: { job_id: JOB, api_key: 'jobs-key' } },
  ])('/ws $desc answers the error engine_unavailable', async ({ event, data }) => {
    const client = await TestClient.connect(`${gate.wsUrl}/ws?device_id=d1`)
    try {
      const answer = await client.request(event, data)
      expect({ type: answer.type, code: answer.error?.code }).toEqual({ type: 'error', code: 'engine_unavailable' })
    } finally {
      client.close()
    }
  })

  it('logged no unhandled error for any of them', () => {
    const unhandled = gate.logs.filter((line) => line.includes('unhandled error') || line.includes('handler failed'))
    expect(unhandled).toEqual([])
  })
})
