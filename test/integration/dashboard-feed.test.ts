/**
 * The dashboard's feed on /ws and its page: nothing before a valid
 * credential, wrong credentials refused (and, once the address has spent its
 * budget of them, its connections closed), snapshots every second after, each instance's devices reported
 * across a cluster on one Redis, and the page's files served with a strict
 * Content-Security-Policy.
 */
import { describe, expect, it } from 'vitest'
import { startGate, type TestGate } from '../helpers/gate.js'
import { sleep, waitFor } from '../helpers/ports.js'
import { redisSuite } from '../helpers/redis-suite.js'
import { TestClient, type Frame } from '../helpers/ws-client.js'

const TOKEN = 'dash-bearer-token'
const KEY = 'dash-api-key'
const { redis, clients } = redisSuite()

const gate = (settings: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}) =>
  startGate(
    {
      auth: { bearerTokens: [TOKEN], apiKeys: [KEY] },
      rateLimit: { rps: 1000, burst: 1000 },
      rooms: { pools: { janus: { strategy: 'least-loaded', nodes: ['gxy1', 'gxy2'], capacity: 10 } } },
      ...settings,
    },
    env,
  )

async function connect(g: TestGate, query = ''): Promise<TestClient> {
  const c = await TestClient.connect(`${g.wsUrl}/ws${query}`)
  clients.push(c)
  return c
}

const isSnapshot = (m: Frame) => m.type === 'dashboard'
const subscribe = (c: TestClient, data: unknown) => c.request('dashboard.subscribe', data)

describe('dashboard feed', () => {
  it('sends nothing of the dashboard before a valid credential, refuses a wrong one, then sends a snapshot at once and every second', async () => {
    const g = await gate()
    await fetch(`${g.url}/v2/rooms/lecture-7/presence/alice`, { method: 'PUT' })
    const c = await connect(g)

    expect(await subscribe(c, { token: 'not-the-token' })).toMatchObject({
      type: 'error',
      event: 'dashboard.subscribe',
      error: { code: 'unauthorized', message: 'Wrong dashboard token or API key' },
    })
    // A token is not an API key, nor the other way round.
    expect((await subscribe(c, { api_key: TOKEN })).error.code).toBe('unauthorized')
    expect((await subscribe(c, {})).error.code).toBe('unauthorized')
    await sleep(1_300)
    expect(c.messages.filter(isSnapshot)).toEqual([])
    // The seed 002 metrics feed still arrives (the page ignores it) and holds nothing of the dashboard.
    expect(c.messages.map((m) => m.type)).toContain('metrics')
    expect(c.messages.filter((m) => !['metrics', 'lucidlink-stats', 's3-health', 'health-check'].includes(m.type))).toEqual([])

    const ok = await subscribe(c, { token: TOKEN })
    expect(ok).toMatchObject({ type: 'response', event: 'dashboard.subscribe', data: { subscribed: true } })
    const first = await c.next(isSnapshot, 1_000)
    expect(first).toMatchObject({
      type: 'dashboard',
      instance: g.engine.instanceId,
      engine: { kind: 'memory', state: 'ready' },
      instances: [{ instance: g.engine.instanceId, self: true, devices: 0, connections: 1, watchers: 1 }],
      rooms: { error: null },
      jobs: { items: [], error: null },
      health: [],
      status: { items: [], error: null },
    })
    const janus = first.rooms.items.find((p: Frame) => p.name === 'janus')
    expect(janus).toMatchObject({ strategy: 'least-loaded', capacity: 10, role: 'server', rooms: 1, users: 1 })
    const node = janus.nodes.find((n: Frame) => n.roomCount === 1)
    expect(node).toMatchObject({ users: 1, load: 0.1, rooms: [{ room: 'lecture-7', users: 1, state: 'active' }] })
    expect(first.rateLimits.map((r: Frame) => r.scope)).toEqual(expect.arrayContaining(['http', 'ws']))

    const second = await c.next(isSnapshot, 2_000)
    expect(second.at).toBeGreaterThan(first.at)

    const off = await c.request('dashboard.unsubscribe')
    expect(off.data).toMatchObject({ subscribed: false })
    await sleep(1_200)
    c.messages.splice(0)
    await sleep(1_200)
    expect(c.messages.filter(isSnapshot)).toEqual([])
  })

  it('takes an API key, and lets a device subscribe too', async () => {
    const g = await gate()
    const device = await connect(g, '?device_id=ops-tablet')
    expect((await subscribe(device, { api_key: KEY })).type).toBe('response')
    const snap = await device.next(isSnapshot, 1_500)
    expect(snap.instances[0]).toMatchObject({ devices: 1, connections: 1 })
  })

  it('counts rate-limit rejections and shows them per second', async () => {
    const g = await gate({ rateLimit: { rps: 1, burst: 2 } })
    const c = await connect(g)
    expect((await subscribe(c, { token: TOKEN })).type).toBe('response')
    for (let i = 0; i < 6; i++) c.send({ event: 'ping.nothing', request_id: `r${i}` })
    const seen = await waitFor(
      () => c.messages.filter(isSnapshot).find((m) => m.rateLimits.some((r: Frame) => r.scope === 'ws' && r.total >= 4 && r.perSecond > 0)),
      4_000,
      'ws rejections in a snapshot',
    )
    expect(seen.rateLimits.find((r: Frame) => r.scope === 'ws').total).toBeGreaterThanOrEqual(4)
  })

  it("closes a connection once its address has spent the budget of wrong credentials, shared by all of that address's connections", async () => {
    const g = await gate({ auth: { bearerTokens: [TOKEN], apiKeys: [KEY], failedAttempts: { perMinute: 1, burst: 3 } } })
    const first = await connect(g)
    for (let i = 0; i < 2; i++) expect((await subscribe(first, { token: `guess-${i}` })).error.code).toBe('unauthorized')
    // A new connection does not start a new budget (it did: 295 guesses in 5 s over fresh sockets).
    const second = await connect(g)
    expect((await subscribe(second, { token: 'guess-2' })).error.code).toBe('unauthorized')
    expect((await subscribe(second, { token: 'guess-3' })).error).toMatchObject({ code: 'rate_limited' })
    expect(await second.closed).toEqual({ code: 1008, reason: 'too many wrong credentials' })
    // Locked out: even the right token is refused unchecked, and that connection is closed too.
    const third = await connect(g)
    expect((await subscribe(third, { token: TOKEN })).error.code).toBe('rate_limited')
    expect(await third.closed).toEqual({ code: 1008, reason: 'too many wrong credentials' })
    expect(third.messages.filter(isSnapshot)).toEqual([])
  })

  it('refuses unchecked the guesses that arrive in the same burst as the last one the budget allows, the right one included', async () => {
    const g = await gate({ auth: { bearerTokens: [TOKEN], apiKeys: [KEY], failedAttempts: { perMinute: 1, burst: 3 } } })
    const c = await connect(g)
    for (let i = 0; i < 8; i++) c.send({ event: 'dashboard.subscribe', request_id: `g${i}`, data: { token: `guess-${i}` } })
    c.send({ event: 'dashboard.subscribe', request_id: 'right', data: { token: TOKEN } })
    expect(await c.closed).toEqual({ code: 1008, reason: 'too many wrong credentials' })
    const answers = c.messages.filter((m) => typeof m.request_id === 'string')
    expect(answers.filter((m) => m.type === 'response')).toEqual([])
    expect(answers.filter((m) => m.error?.code === 'unauthorized')).toHaveLength(3)
    expect(answers.find((m) => m.request_id === 'right')?.error?.code ?? 'no answer').toMatch(/rate_limited|no answer/)
    expect(c.messages.filter(isSnapshot)).toEqual([])
  })

  it('says so when no credential is configured', async () => {
    const g = await gate({ auth: {} })
    const c = await connect(g)
    expect((await subscribe(c, { token: 'anything' })).error.code).toBe('not_configured')
  })

  it('shows every instance of a cluster with its own devices', async () => {
    const a = await gate({}, { REDIS_URL: redis.url })
    const b = await gate({}, { REDIS_URL: redis.url })
    await connect(b, '?device_id=phone-1')
    await connect(b, '?device_id=phone-2')
    const watcher = await connect(a)
    expect((await subscribe(watcher, { token: TOKEN })).type).toBe('response')
    // B's report is up to a second old: wait for the one that counts its devices.
    const snap = await waitFor(
      () => watcher.messages.filter(isSnapshot).find((m) => m.instances.length === 2 && m.instances[1].devices === 2),
      4_000,
      'both instances, with the devices of B, in a snapshot',
    )
    expect(snap.engine).toEqual({ kind: 'redis', state: 'ready' })
    expect(snap.instances).toEqual([
      expect.objectContaining({ instance: a.engine.instanceId, self: true, devices: 0, connections: 1, watchers: 1 }),
      expect.objectContaining({ instance: b.engine.instanceId, self: false, devices: 2, connections: 2, watchers: 0 }),
    ])
    // An instance that stops drops out once its last report is stale.
    await b.close()
    await waitFor(
      () => watcher.messages.filter(isSnapshot).find((m) => m.instances.length === 1),
      8_000,
      'the stopped instance to drop out',
    )
  })
})

describe('dashboard page', () => {
  it('serves the page, its scripts and uPlot with a strict CSP, and no data', async () => {
    const g = await gate()
    const page = await fetch(`${g.url}/dashboard`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    const csp = page.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("connect-src 'self'")
    expect(csp).not.toContain('unsafe-inline')
    const html = await page.text()
    expect(html).not.toMatch(/<script>|<script [^>]*>[^<]/) // no inline scripts
    expect(html).not.toMatch(/ style=/)

    for (const [file, type] of [
      ['app.js', 'text/javascript; charset=utf-8'],
      ['uPlot.iife.min.js', 'text/javascript; charset=utf-8'],
      ['uPlot.min.css', 'text/css; charset=utf-8'],
      ['dashboard.css', 'text/css; charset=utf-8'],
    ]) {
      const res = await fetch(`${g.url}/dashboard/${file}`)
      expect([file, res.status, res.headers.get('content-type')]).toEqual([file, 200, type])
      const etag = res.headers.get('etag')!
      expect((await fetch(`${g.url}/dashboard/${file}`, { headers: { 'if-none-match': etag } })).status).toBe(304)
    }
    expect((await fetch(`${g.url}/dashboard/../package.json`)).status).toBe(404)
    expect((await fetch(`${g.url}/dashboard/%2e%2e%2fpackage.json`)).status).toBe(404)
    expect((await fetch(`${g.url}/dashboard/nope.js`)).status).toBe(404)
  })
})
