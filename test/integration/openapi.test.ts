/**
 * The OpenAPI document at /docs/json: it describes every route, the examples
 * of the seed documents validate against it, and real answers of a running
 * roomgate (successes and errors) match what it documents.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { closeGates, startGate, type TestGate } from '../helpers/gate.js'
import { KEY, tempRoot, type TempRoot } from '../helpers/job-files.js'
import { DocValidator, exampleAfter, seed, seedDrift, type OpenApiDoc } from '../helpers/openapi.js'
import { startClientApi, type FakeClientApi } from '../helpers/client-api.js'
import { eventSchemaId } from '../../src/openapi/ws.js'

const TOKEN = 'docs-token'
const INTERNAL = 'docs-internal'
let gate: TestGate
let api: FakeClientApi
let root: TempRoot
let docs: DocValidator

beforeAll(async () => {
  root = await tempRoot()
  await root.file('00_Media/video.mp4', 10_000)
  api = await startClientApi()
  api.units = [{ ref: 'A-1', status: 'open' }]
  gate = await startGate({
    auth: { bearerTokens: [TOKEN], apiKeys: [KEY], internalToken: INTERNAL },
    rateLimit: { rps: 10_000, burst: 10_000 },
    jobs: { root: root.dir, rateLimit: { perMinute: 100_000 } },
    rooms: {
      legacyPool: 'gateways',
      pools: { gateways: { strategy: 'exclusive', nodes: ['127.0.0.2'], progressUrl: 'http://{node}:9/progress', monitorIntervalMs: 60_000 } },
    },
    status: { sources: [{ slug: 'demo', url: `${api.url}/units`, mapping: { available: ['open'] } }] },
  })
  const res = await fetch(`${gate.url}/docs/json`)
  expect(res.status).toBe(200)
  docs = new DocValidator((await res.json()) as OpenApiDoc)
})

afterAll(async () => {
  await closeGates()
  await api?.close()
  await root?.remove()
})

describe('the OpenAPI document', () => {
  it("documents the data of every event roomgate answers itself on /ws, from the schema that checks it", () => {
    const events = gate.server.realtime.local.list().map((e) => e.name)
    expect(events).toEqual(expect.arrayContaining(['identify', 'recover', 'room.join', 'room.leave', 'job.subscribe', 'job.unsubscribe', 'metrics.subscribe', 'dashboard.subscribe']))
    for (const name of events) expect(docs.doc.components.schemas[eventSchemaId(name)], name).toBeDefined()
    expect(docs.component('WsRoomJoin', { room: 2171, user_id: 'u1' })).toEqual([])
    expect(docs.component('WsRoomJoin', { user_id: 'u1' })).not.toEqual([])
    expect(docs.component('WsRecover', { since: { 'device:phone-1': { epoch: 'e1', offset: 42 } } })).toEqual([])
    expect(docs.component('WsEvent', { type: 'event', event: 'x', data: {}, stream: 'device:phone-1', offset: 42 })).toEqual([])
  })

  it('is OpenAPI 3.1, describes every route with a summary, a tag and its answers, and has a page at /docs', async () => {
    expect(docs.doc.openapi).toBe('3.1.0')
    const expected = [
      ['get', '/healthz'], ['get', '/readyz'], ['get', '/metrics'], ['get', '/ws'], ['post', '/internal/broadcast'],
      ['post', '/start'], ['post', '/stop'], ['get', '/progress'], ['get', '/status'],
      ['post', '/v2/room_server'], ['get', '/rooms'], ['get', '/rooms/{room}'],
      ['put', '/v2/rooms/{room}/presence/{user}'], ['delete', '/v2/rooms/{room}/presence/{user}'],
      ['post', '/api/v1/cache/jobs'], ['get', '/api/v1/cache/jobs'], ['get', '/api/v1/cache/jobs/{id}'], ['delete', '/api/v1/cache/jobs/{id}'],
      ['get', '/api/v1/health'], ['get', '/api/v1/metrics'], ['get', '/api/v1/metrics/s3'],
      ['get', '/api/public/{slug}/status'], ['get', '/api/public/{slug}/status/stream'], ['post', '/api/public/{slug}/status/refresh'],
      ['get', '/v1/measurement/{*}'], ['post', '/v1/simulation/{*}'], ['get', '/dashboard'], ['get', '/dashboard/{file}'],
    ]
    for (const [method, path] of expected) expect(docs.operation(method!, path!), `${method} ${path}`).toBeDefined()
    for (const [path, ops] of Object.entries(docs.doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const what = `${method} ${path}`
        expect(op.summary, what).toEqual(expect.any(String))
        expect(op.tags, what).toEqual([expect.any(String)])
        const statuses = Object.keys(op.responses as object)
        expect(statuses.some((s) => /^[123]|default/.test(s)), what).toBe(true)
      }
    }
    expect(docs.operation('post', '/api/v1/cache/jobs').security).toEqual([{ apiKey: [] }])
    expect(docs.operation('post', '/start').security).toEqual([{ bearer: [] }])
    const page = await fetch(`${gate.url}/docs`, { redirect: 'follow' })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
  })
})

describe("the seeds' examples validate against the document", () => {
  it('reads the same seed documents as ../shared/seeds', () => {
    expect(seedDrift()).toEqual([])
  })

  it('seed 000: the room query of every call', () => {
    const text = seed('000')
    for (const path of ['/start', '/stop', '/progress']) {
      expect(text).toContain(`${path}?room=roomName`)
      expect(docs.query(path === '/progress' ? 'get' : 'post', path, { room: 'math101' })).toEqual([])
    }
    expect(text).toContain('curl -H "Authorization: Bearer 1234" http://localhost:8080/status')
    expect(docs.operation('get', '/status').security).toEqual([{ bearer: [] }])
  })

  it('seed 001: the broadcast body and every WebSocket message', () => {
    const text = seed('001')
    expect(docs.body('post', '/internal/broadcast', exampleAfter(text, '## Internal Broadcast API'))).toEqual([])
    expect(docs.component('WsClientMessage', exampleAfter(text, '### Client → Server Messages'))).toEqual([])
    expect(docs.component('WsResponse', exampleAfter(text, '**Response:**'))).toEqual([])
    expect(docs.component('WsEvent', exampleAfter(text, '**Event (push):**'))).toEqual([])
    expect(docs.component('WsError', exampleAfter(text, '**Error:**'))).toEqual([])
  })

  it('seed 002: every request and answer of the job, health and metrics APIs, and the feed messages', () => {
    const text = seed('002')
    const bodies = [
      exampleAfter(text, '### 3. Submit a cache job'),
      exampleAfter(text, '### Create Cache Job'),
      exampleAfter(text, '### Relative Paths (Recommended)'),
      exampleAfter(text, '**From macOS:**'),
      exampleAfter(text, '**From Windows:**'),
      exampleAfter(text, '**From Linux:**'),
    ]
    for (const body of bodies) expect(docs.body('post', '/api/v1/cache/jobs', body)).toEqual([])
    const answers: Array<[string, string, number, string]> = [
      ['get', '/api/v1/health', 200, '### Health Check'],
      ['post', '/api/v1/cache/jobs', 201, '### Create Cache Job'],
      ['get', '/api/v1/cache/jobs/{id}', 200, '### Get Job Status'],
      ['get', '/api/v1/cache/jobs', 200, '### List Jobs'],
      ['delete', '/api/v1/cache/jobs/{id}', 200, '### Cancel Job'],
      ['get', '/api/v1/metrics', 200, '### Get Metrics'],
      ['get', '/api/v1/metrics/s3', 200, '### Get S3 Health Metrics'],
    ]
    for (const [method, path, status, marker] of answers) {
      expect(docs.response(method, path, status, exampleAfter(text, marker, 1))).toEqual([])
    }
    const errorsAt: Array<[string, string, number, string]> = [
      ['get', '/api/v1/cache/jobs', 401, '### Authentication Error'],
      ['post', '/api/v1/cache/jobs', 429, '### Rate Limit Error'],
      ['get', '/api/v1/cache/jobs/{id}', 400, '### Invalid Job ID'],
      ['get', '/api/v1/cache/jobs/{id}', 404, '### Job Not Found'],
    ]
    for (const [method, path, status, marker] of errorsAt) {
      expect(docs.response(method, path, status, exampleAfter(text, marker))).toEqual([])
    }
    expect(docs.component('WsMetrics', exampleAfter(text, '**Initial Metrics**'))).toEqual([])
    expect(docs.component('WsLucidLinkStats', exampleAfter(text, '**LucidLink Stats Update**'))).toEqual([])
    expect(docs.component('WsS3Health', exampleAfter(text, '**S3 Health Update**'))).toEqual([])
  })

  it('seed 003: the room_server request and its answer', () => {
    const text = seed('003')
    const body = /-d '([^']*)'/.exec(text)![1]!
    const answer = /# (\{"janus":"[^"]+"\})/.exec(text)![1]!
    expect(docs.body('post', '/v2/room_server', JSON.parse(body))).toEqual([])
    expect(docs.response('post', '/v2/room_server', 200, JSON.parse(answer))).toEqual([])
  })

  it("seed 004: the status answers its router returns, and the stream's content type", () => {
    const text = seed('004')
    // The seed's router returns these dicts (Python, not JSON): statuses as the proxy maps them.
    expect(text).toMatch(/"project": slug,\s*"statuses": statuses,\s*"count": len\(statuses\)/)
    expect(text).toMatch(/"project": slug,\s*"statuses": statuses,\s*"refreshed": True/)
    const statuses = { 'A-101': 'available', 'A-102': 'reserved' }
    expect(docs.response('get', '/api/public/{slug}/status', 200, { project: 'demo', statuses, count: 2 })).toEqual([])
    expect(docs.response('post', '/api/public/{slug}/status/refresh', 200, { project: 'demo', statuses, refreshed: true })).toEqual([])
    expect(docs.response('get', '/api/public/{slug}/status', 404, { detail: 'Project not found' })).not.toEqual([])
    const stream = docs.operation('get', '/api/public/{slug}/status/stream') as { responses: Record<string, { content: object }> }
    expect(Object.keys(stream.responses['200']!.content)).toEqual(['text/event-stream'])
  })
})

describe('real answers match the document', () => {
  const call = async (method: string, path: string, route: string, init: { body?: unknown; headers?: Record<string, string> } = {}) => {
    const res = await fetch(`${gate.url}${path}`, {
      method: method.toUpperCase(),
      headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    })
    const body = (await res.json()) as Record<string, unknown>
    expect(docs.response(method, route, res.status, body), `${method} ${path} → ${res.status} ${JSON.stringify(body)}`).toEqual([])
    return { status: res.status, body }
  }
  const key = { 'x-api-key': KEY }
  const bearer = { authorization: `Bearer ${TOKEN}` }

  it('probes, health and metrics', async () => {
    expect((await call('get', '/healthz', '/healthz')).status).toBe(200)
    expect((await call('get', '/readyz', '/readyz')).status).toBe(200)
    expect((await call('get', '/api/v1/health', '/api/v1/health')).status).toBe(200)
    expect((await call('get', '/api/v1/metrics', '/api/v1/metrics')).status).toBe(200)
    expect((await call('get', '/api/v1/metrics/s3', '/api/v1/metrics/s3')).status).toBe(200)
  })

  it('the job API, from creation to cancel, and its errors', async () => {
    const created = await call('post', '/api/v1/cache/jobs', '/api/v1/cache/jobs', {
      headers: key,
      body: { files: ['00_Media/video.mp4', 'missing.mov'] },
    })
    expect(created.status).toBe(201)
    const id = created.body.jobId as string
    expect((await call('get', `/api/v1/cache/jobs/${id}`, '/api/v1/cache/jobs/{id}', { headers: key })).status).toBe(200)
    expect((await call('get', '/api/v1/cache/jobs?limit=5', '/api/v1/cache/jobs', { headers: key })).status).toBe(200)
    expect((await call('delete', `/api/v1/cache/jobs/${id}`, '/api/v1/cache/jobs/{id}', { headers: key })).status).toBeOneOf([200, 409])
    expect((await call('get', '/api/v1/cache/jobs', '/api/v1/cache/jobs')).status).toBe(401)
    expect((await call('get', '/api/v1/cache/jobs/nope', '/api/v1/cache/jobs/{id}', { headers: key })).status).toBe(400)
    const unknown = '6bb4629b-1487-477c-96fe-b762d82a099b'
    expect((await call('get', `/api/v1/cache/jobs/${unknown}`, '/api/v1/cache/jobs/{id}', { headers: key })).status).toBe(404)
    expect((await call('post', '/api/v1/cache/jobs', '/api/v1/cache/jobs', { headers: key, body: { files: 3 } })).status).toBe(400)
  })

  it('both rooms APIs, and their errors', async () => {
    expect((await call('post', '/v2/room_server', '/v2/room_server', { body: { room: 2171 } })).body).toEqual({ janus: 'gxy1' })
    const joined = await call('put', '/v2/rooms/2171/presence/u1', '/v2/rooms/{room}/presence/{user}')
    expect(joined.status).toBe(200)
    expect((await call('get', '/rooms', '/rooms')).status).toBe(200)
    expect((await call('get', '/rooms/2171', '/rooms/{room}')).status).toBe(200)
    expect((await call('get', '/rooms/none', '/rooms/{room}')).status).toBe(404)
    expect((await call('delete', '/v2/rooms/2171/presence/u1', '/v2/rooms/{room}/presence/{user}')).status).toBe(401)
    const leave = { 'x-presence-token': joined.body.leaveToken as string }
    expect((await call('delete', '/v2/rooms/2171/presence/u1', '/v2/rooms/{room}/presence/{user}', { headers: leave })).status).toBe(200)
    expect((await call('post', '/v2/room_server', '/v2/room_server', { body: { room: 'a|b' } })).status).toBe(400)

    expect((await call('post', '/start?room=math101', '/start', { headers: bearer })).status).toBe(200)
    expect((await call('get', '/progress?room=math101', '/progress', { headers: bearer })).status).toBe(200)
    expect((await call('get', '/status', '/status', { headers: bearer })).status).toBe(200)
    expect((await call('get', '/rooms', '/rooms', { headers: bearer })).body.rooms).toContainEqual(expect.objectContaining({ pool: 'gateways' }))
    expect((await call('get', '/rooms', '/rooms')).body.rooms).not.toContainEqual(expect.objectContaining({ pool: 'gateways' }))
    expect((await call('get', '/rooms/math101?pool=gateways', '/rooms/{room}')).status).toBe(401)
    expect((await call('post', '/start?room=other', '/start', { headers: bearer })).status).toBe(503)
    expect((await call('post', '/stop?room=math101', '/stop', { headers: bearer })).status).toBe(200)
    expect((await call('post', '/stop?room=math101', '/stop', { headers: bearer })).status).toBe(409)
    expect((await call('get', '/progress?room=nope', '/progress', { headers: bearer })).status).toBe(404)
    expect((await call('get', '/status', '/status')).status).toBe(401)
    expect((await call('post', '/start', '/start', { headers: bearer })).status).toBe(400)
  })

  it('the status API, the broadcast and /ws without an upgrade', async () => {
    expect((await call('get', '/api/public/demo/status', '/api/public/{slug}/status')).body.count).toBe(1)
    expect((await call('post', '/api/public/demo/status/refresh', '/api/public/{slug}/status/refresh')).body.refreshed).toBe(true)
    expect((await call('get', '/api/public/nope/status', '/api/public/{slug}/status')).status).toBe(404)
    const sent = await call('post', '/internal/broadcast', '/internal/broadcast', {
      headers: { 'x-internal-token': INTERNAL },
      body: { event: 'x', targets: { all: true } },
    })
    expect(sent.status).toBe(200)
    expect((await call('post', '/internal/broadcast', '/internal/broadcast', { body: { event: 'x', targets: { all: true } } })).status).toBe(401)
    expect((await call('get', '/ws', '/ws')).status).toBe(426)
  })

  it('the feed messages on /ws', async () => {
    const ws = new WebSocket(`${gate.wsUrl}/ws`)
    const first = await new Promise<unknown>((resolve, reject) => {
      ws.once('message', (data: Buffer) => resolve(JSON.parse(data.toString())))
      ws.once('error', reject)
    })
    ws.close()
    expect(docs.component('WsMetrics', first)).toEqual([])
  })
})

describe('docs.enabled: false', () => {
  it('serves no document and no page, and every route still answers in full', async () => {
    const plain = await startGate({ docs: { enabled: false }, auth: { apiKeys: [KEY] } })
    expect((await fetch(`${plain.url}/docs/json`)).status).toBe(404)
    expect((await fetch(`${plain.url}/docs`)).status).toBe(404)
    expect(await (await fetch(`${plain.url}/healthz`)).json()).toMatchObject({ status: 'ok', engine: 'memory', engineState: 'ready' })
    const refused = await fetch(`${plain.url}/api/v1/cache/jobs`)
    expect(refused.status).toBe(401)
    expect(await refused.json()).toEqual({ success: false, error: 'Invalid or missing API key', code: 'unauthorized' })
  })
})
