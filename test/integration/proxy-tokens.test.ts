/**
 * Proxy routes with `auth: token` (issue 13), against a real upstream on port
 * 0 and HS256 device tokens made with jose: only a verified token reaches the
 * service, which learns the device from `X-Roomgate-Device-Id` and from no
 * header a client could have written.
 */
import type { IncomingMessage } from 'node:http'
import { SignJWT } from 'jose'
import { request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MESSAGES } from '../../src/errors.js'
import { closeGates, startGate, type TestGate } from '../helpers/gate.js'
import { sendJson, startUpstream, type TestUpstream } from '../helpers/upstream.js'

const SECRET = 'device-secret-of-at-least-32-bytes!!'
const key = new TextEncoder().encode(SECRET)

/** An HS256 device token for `sub`, valid for 5 minutes unless `expiresAt` (epoch seconds) says otherwise. */
function token(sub: string, o: { secret?: Uint8Array; expiresAt?: number } = {}): Promise<string> {
  const jwt = new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' })
  if (o.expiresAt !== undefined) jwt.setIssuedAt(o.expiresAt - 600).setExpirationTime(o.expiresAt)
  else jwt.setIssuedAt().setExpirationTime('5m')
  return jwt.sign(o.secret ?? key)
}

let upstream: TestUpstream
let seen: IncomingMessage[]
let gate: TestGate

beforeEach(async () => {
  seen = []
  upstream = await startUpstream((req, res) => {
    seen.push(req)
    sendJson(res, 200, { ok: true })
  })
  gate = await startGate(
    {
      services: { measurement: { url: upstream.url } },
      auth: { devices: { hmacSecrets: [{ secretEnv: 'DEVICE_JWT_SECRET' }] }, failedAttempts: { perMinute: 1, burst: 20 } },
      rateLimit: { rps: 1000, burst: 1000 },
      proxy: {
        routes: [
          { prefix: '/v1/measurement', service: 'measurement', auth: 'token' },
          { prefix: '/v1/simulation', service: 'measurement' },
        ],
      },
    },
    { DEVICE_JWT_SECRET: SECRET },
  )
})

afterEach(async () => {
  await closeGates()
  await upstream.close()
})

const get = (path: string, headers: Record<string, string> = {}, g = gate) => request(`${g.url}${path}`, { headers })

/** Every `X-Roomgate-*` header the upstream received, as `[name, value]` in order. */
const roomgateHeaders = (req: IncomingMessage) =>
  req.rawHeaders.flatMap((name, i) => (i % 2 === 0 && name.toLowerCase().startsWith('x-roomgate-') ? [[name.toLowerCase(), req.rawHeaders[i + 1]]] : []))

describe('a route with auth: token', () => {
  it('refuses a request without a valid device token with 401 in the error format, and forwards nothing', async () => {
    const now = Math.floor(Date.now() / 1000)
    const cases: Array<{ desc: string; headers: Record<string, string>; message: string }> = [
      { desc: 'no Authorization', headers: {}, message: MESSAGES.token_missing.message },
      { desc: 'another scheme', headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }, message: MESSAGES.token_missing.message },
      { desc: 'not a JWT', headers: { authorization: 'Bearer not-a-jwt' }, message: MESSAGES.token_invalid.message },
      {
        desc: 'signed with another secret',
        headers: { authorization: `Bearer ${await token('dev-1', { secret: new TextEncoder().encode('another-secret-of-at-least-32-bytes') })}` },
        message: MESSAGES.token_invalid.message,
      },
      {
        desc: 'expired five minutes ago',
        headers: { authorization: `Bearer ${await token('dev-1', { expiresAt: now - 300 })}` },
        message: MESSAGES.token_expired.message,
      },
    ]
    for (const c of cases) {
      const res = await get('/v1/measurement/a', { ...c.headers, 'x-roomgate-device-id': 'dev-1' })
      expect(res.statusCode, c.desc).toBe(401)
      expect(await res.body.json(), c.desc).toEqual({ success: false, code: 'unauthorized', error: c.message })
    }
    expect(seen).toHaveLength(0)
  })

  it("tells the upstream the token's device in X-Roomgate-Device-Id, and passes Authorization on unchanged", async () => {
    const jwt = await token('device-42')
    const res = await get('/v1/measurement/results?x=1', { authorization: `Bearer ${jwt}` })
    expect(res.statusCode).toBe(200)
    await res.body.dump()
    expect(seen).toHaveLength(1)
    expect(seen[0]!.url).toBe('/v1/measurement/results?x=1')
    expect(seen[0]!.headers['x-roomgate-device-id']).toBe('device-42')
    expect(seen[0]!.headers.authorization).toBe(`Bearer ${jwt}`)
  })

  it("never lets a client's own X-Roomgate-* headers through, even beside a valid token", async () => {
    const res = await get('/v1/measurement/a', {
      authorization: `Bearer ${await token('device-42')}`,
      'X-Roomgate-Device-Id': 'someone-else',
      'x-roomgate-anything': '1',
      'X-ROOMGATE-ROLE': 'admin',
    })
    expect(res.statusCode).toBe(200)
    await res.body.dump()
    expect(roomgateHeaders(seen[0]!)).toEqual([['x-roomgate-device-id', 'device-42']])
  })

  it('sends a device id outside ASCII as its UTF-8 bytes', async () => {
    const res = await get('/v1/measurement/a', { authorization: `Bearer ${await token('gerät-日本')}` })
    expect(res.statusCode).toBe(200)
    await res.body.dump()
    // Node reads header bytes as Latin-1.
    expect(Buffer.from(seen[0]!.headers['x-roomgate-device-id'] as string, 'latin1').toString('utf8')).toBe('gerät-日本')
  })

  it('does not ask for a token on the routes without auth, nor send a device id there', async () => {
    const res = await get('/v1/simulation/a', { authorization: `Bearer ${await token('device-42')}`, 'x-roomgate-device-id': 'forged' })
    expect(res.statusCode).toBe(200)
    await res.body.dump()
    expect(roomgateHeaders(seen[0]!)).toEqual([])
  })

  it("spends the client IP's budget of wrong credentials, then refuses even a valid token with 429", async () => {
    const g = await startGate(
      {
        services: { measurement: { url: upstream.url } },
        auth: { devices: { hmacSecrets: [{ secretEnv: 'DEVICE_JWT_SECRET' }] }, failedAttempts: { perMinute: 1, burst: 3 } },
        rateLimit: { rps: 1000, burst: 1000 },
        proxy: { routes: [{ prefix: '/v1/measurement', service: 'measurement', auth: 'token' }] },
      },
      { DEVICE_JWT_SECRET: SECRET },
    )
    const valid = { authorization: `Bearer ${await token('device-42')}` }
    // A right token costs nothing.
    for (let i = 0; i < 5; i++) expect((await get('/v1/measurement/a', valid, g)).statusCode).toBe(200)
    const statuses = []
    const wrong: Array<Record<string, string>> = [{}, { authorization: 'Bearer guess-1' }, { authorization: 'Bearer guess-2' }, { authorization: 'Bearer guess-3' }]
    for (const headers of wrong) {
      const res = await get('/v1/measurement/a', headers, g)
      statuses.push(res.statusCode)
      await res.body.dump()
    }
    expect(statuses).toEqual([401, 401, 401, 429])
    const locked = await get('/v1/measurement/a', valid, g)
    expect(locked.statusCode).toBe(429)
    expect(Number(locked.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect(await locked.body.json()).toMatchObject({ success: false, code: 'rate_limited' })
    expect(seen).toHaveLength(5)
  })
})
