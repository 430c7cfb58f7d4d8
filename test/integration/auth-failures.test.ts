/**
 * One budget of wrong credentials per client IP (issue 11): every credential
 * check (internal token, bearer, API key, job.subscribe and the dashboard over
 * /ws) spends from it, on every connection and every instance; once it is
 * spent, checks from that address answer 429 without looking at the
 * credential. Regression: 120 wrong internal tokens in 0.4 s were all
 * answered 401, and each new WebSocket started a fresh budget.
 */
import { describe, expect, it } from 'vitest'
import { startGate, type TestGate } from '../helpers/gate.js'
import { redisSuite } from '../helpers/redis-suite.js'
import { TestClient } from '../helpers/ws-client.js'

const { redis, clients } = redisSuite()
const INTERNAL = 'internal-secret'
const BEARER = 'bearer-secret'
const KEY = 'api-key-secret'

const gate = (env: NodeJS.ProcessEnv = {}, burst = 3) =>
  startGate(
    {
      auth: { internalToken: INTERNAL, bearerTokens: [BEARER], apiKeys: [KEY], failedAttempts: { perMinute: 1, burst } },
      rateLimit: { rps: 1000, burst: 1000 },
      proxy: { routes: [{ prefix: '/v1/private', service: 'measurement', auth: 'bearer' }] },
      services: { measurement: { url: 'http://127.0.0.1:9' } },
    },
    env,
  )

const broadcast = (g: TestGate, token: string) =>
  fetch(`${g.url}/internal/broadcast`, {
    method: 'POST',
    headers: { 'x-internal-token': token, 'content-type': 'application/json' },
    body: JSON.stringify({ event: 'e', data: {}, targets: { all: true } }),
  })

async function connect(g: TestGate): Promise<TestClient> {
  const c = await TestClient.connect(`${g.wsUrl}/ws`)
  clients.push(c)
  return c
}

describe('failed credential budget', () => {
  it('answers 429 with Retry-After once the budget is spent, and then refuses even the right token', async () => {
    const g = await gate()
    for (let i = 0; i < 3; i++) expect((await broadcast(g, `guess-${i}`)).status).toBe(401)
    const locked = await broadcast(g, 'guess-3')
    expect(locked.status).toBe(429)
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(((await locked.json()) as { code: string }).code).toBe('rate_limited')
    expect((await broadcast(g, INTERNAL)).status).toBe(429)
    // The same budget guards every other credential of this address.
    const proxied = await fetch(`${g.url}/v1/private/x`, { headers: { authorization: `Bearer ${BEARER}` } })
    expect(proxied.status).toBe(429)
    expect(g.logs.some((l) => l.includes('too many wrong credentials from one address'))).toBe(true)
  })

  it('charges nothing for right credentials', async () => {
    const g = await gate({}, 2)
    for (let i = 0; i < 30; i++) expect((await broadcast(g, INTERNAL)).status).toBe(200)
    expect((await broadcast(g, 'wrong')).status).toBe(401)
  })

  it('spends from one budget across HTTP, /ws connections and instances on one Redis', async () => {
    const a = await gate({ REDIS_URL: redis.url }, 4)
    const b = await gate({ REDIS_URL: redis.url }, 4)
    expect((await broadcast(a, 'guess-0')).status).toBe(401)
    expect((await fetch(`${b.url}/v1/private/x`, { headers: { authorization: 'Bearer guess-1' } })).status).toBe(401)
    const ws = await connect(a)
    expect((await ws.request('job.subscribe', { job_id: '*', api_key: 'guess-2' })).error.code).toBe('unauthorized')
    const ws2 = await connect(b)
    expect((await ws2.request('dashboard.subscribe', { api_key: 'guess-3' })).error.code).toBe('unauthorized')
    // The fifth failure, on instance B, finds the shared budget spent.
    expect((await broadcast(b, 'guess-4')).status).toBe(429)
    expect((await broadcast(b, INTERNAL)).status).toBe(429)
  })

  it('closes a /ws connection that keeps sending wrong API keys in job.subscribe', async () => {
    const g = await gate()
    const c = await connect(g)
    for (let i = 0; i < 3; i++) expect((await c.request('job.subscribe', { job_id: '*', api_key: `guess-${i}` })).error.code).toBe('unauthorized')
    expect((await c.request('job.subscribe', { job_id: '*', api_key: 'guess-3' })).error.code).toBe('rate_limited')
    expect(await c.closed).toEqual({ code: 1008, reason: 'too many wrong credentials' })
  })
})
