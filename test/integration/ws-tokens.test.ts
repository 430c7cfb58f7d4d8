/**
 * Device tokens on /ws (issue 13): on the upgrade, in identify and refresh;
 * expiry on a live connection; the rooms claim; claims passed to services.
 * Tokens are signed with jose by the test; roomgate holds the HMAC secret.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { SignJWT } from 'jose'
import { WebSocket } from 'ws'
import { closeGates, startGate, type TestGate } from '../helpers/gate.js'
import { startService, type TestUpstream, type GatewayCall } from '../helpers/upstream.js'
import { TestClient } from '../helpers/ws-client.js'

const SECRET = 'device-secret-of-at-least-32-bytes!!'
const key = new Uint8Array(Buffer.from(SECRET))
const clients: TestClient[] = []
const services: TestUpstream[] = []

afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  await closeGates()
  await Promise.all(services.splice(0).map((s) => s.close()))
})

/** A token for `sub` expiring in `seconds` (negative: already expired). */
function token(sub: string, seconds = 300, claims: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime(Math.floor(Date.now() / 1000) + seconds)
    .sign(key)
}

async function gate(devices: Record<string, unknown> = {}): Promise<{ g: TestGate; lobby: TestUpstream & { calls: GatewayCall[] } }> {
  const lobby = await startService()
  services.push(lobby)
  const g = await startGate(
    {
      services: { lobby: { url: lobby.url } },
      rateLimit: { rps: 10_000, burst: 10_000 },
      auth: { devices: { hmacSecrets: [{ secretEnv: 'DEVICE_JWT_SECRET' }], leewaySeconds: 0, ...devices } },
    },
    { DEVICE_JWT_SECRET: SECRET },
  )
  return { g, lobby }
}

async function connect(g: TestGate, query = '', headers: Record<string, string> = {}): Promise<TestClient> {
  const c = await TestClient.connect(`${g.wsUrl}/ws${query}`, { headers })
  clients.push(c)
  return c
}

/** The HTTP status an upgrade is refused with. */
function refusedWith(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
    ws.once('open', () => reject(new Error('the upgrade was accepted')))
    ws.once('error', () => undefined)
  })
}

describe('device tokens on /ws', () => {
  it('identifies a connection by its token on the upgrade, and passes the verified device and claims to services', async () => {
    const { g, lobby } = await gate()
    const c = await connect(g, `?token=${await token('phone-1', 300, { plan: 'pro' })}`)
    expect((await c.request('lobby.create')).type).toBe('response')
    expect(lobby.calls[0]!.body).toMatchObject({ device_id: 'phone-1', claims: { sub: 'phone-1', plan: 'pro' } })
    const bearer = await connect(g, '', { authorization: `Bearer ${await token('phone-2')}` })
    await bearer.request('lobby.create')
    expect(lobby.calls[1]!.body.device_id).toBe('phone-2')
  })

  it('refuses a bad or expired token on the upgrade with 401, and a device_id that is not the token’s with 400', async () => {
    const { g } = await gate()
    expect(await refusedWith(`${g.wsUrl}/ws?token=not.a.jwt`)).toBe(401)
    expect(await refusedWith(`${g.wsUrl}/ws?token=${await token('phone', -60)}`)).toBe(401)
    const forged = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('phone').setExpirationTime('5m').sign(new Uint8Array(32))
    expect(await refusedWith(`${g.wsUrl}/ws?token=${forged}`)).toBe(401)
    expect(await refusedWith(`${g.wsUrl}/ws?device_id=other&token=${await token('phone')}`)).toBe(400)
  })

  it('with required: true, gives an identity only for a token', async () => {
    const { g } = await gate({ required: true })
    expect(await refusedWith(`${g.wsUrl}/ws?device_id=claimed`)).toBe(401)
    const c = await connect(g)
    expect((await c.request('lobby.create')).error.code).toBe('unidentified')
    expect(await c.request('identify', { device_id: 'claimed' })).toMatchObject({ type: 'error', error: { code: 'unauthorized' } })
    expect(await c.request('identify', { token: 'x.y.z' })).toMatchObject({ type: 'error', error: { code: 'unauthorized' } })
    const ok = await c.request('identify', { token: await token('tablet') })
    expect(ok.data).toEqual({ device_id: 'tablet', expires_at: expect.any(String) })
    expect((await c.request('lobby.create')).type).toBe('response')
  })

  it('keeps seed 001’s claimed device_id when tokens are not required', async () => {
    const { g, lobby } = await gate()
    const c = await connect(g, '?device_id=claimed')
    await c.request('lobby.create')
    expect(lobby.calls[0]!.body).toEqual({ event: 'lobby.create', request_id: expect.anything(), device_id: 'claimed', data: {} })
  })

  it('closes a connection whose token expires with 1008, unless it refreshed first; refresh as another device is conflict', async () => {
    const { g } = await gate()
    const short = await token('phone', 2)
    const stays = await connect(g, `?token=${short}`)
    const goes = await connect(g, `?token=${short}`)
    expect(await stays.request('refresh', { token: await token('tablet') })).toMatchObject({ type: 'error', error: { code: 'conflict' } })
    expect((await stays.request('refresh', { token: await token('phone', 300) })).data).toMatchObject({ device_id: 'phone' })
    expect(await goes.closed).toEqual({ code: 1008, reason: 'token expired' })
    // The refreshed one outlived the first token.
    expect((await stays.request('identify', { device_id: 'phone' })).type).toBe('response')
  }, 15_000)

  it('lets a token with a rooms claim join only those rooms', async () => {
    const { g } = await gate()
    const c = await connect(g, `?token=${await token('student', 300, { rooms: ['math*', 'lobby'] })}`)
    expect((await c.request('room.join', { room: 'math101' })).type).toBe('response')
    expect((await c.request('room.join', { room: 'lobby' })).type).toBe('response')
    expect(await c.request('room.join', { room: 'biology' })).toMatchObject({ type: 'error', error: { code: 'forbidden' } })
  })
})
