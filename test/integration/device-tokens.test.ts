/**
 * The device token verifier (issue 13) with keys made by node:crypto, tokens
 * signed by jose, and a real JWKS endpoint on 127.0.0.1 that each test can
 * change, break or make hang: what is accepted, what is refused and with
 * which code, key rotation at the endpoint, the refetch window, outages, the
 * metrics, and logs that never carry a token or a secret.
 *
 * The refetch window runs on a clock the test moves (`now`); the JWKS
 * deadline is real but short (200 ms), and tests await outcomes, never time.
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { exportJWK, SignJWT, type JWK, type JWTHeaderParameters, type JWTPayload } from 'jose'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { DeviceVerifier } from '../../src/auth/device-identity.js'
import { createDeviceVerifier } from '../../src/auth/device-tokens.js'
import { JwksCache, MAX_JWKS_BYTES } from '../../src/auth/jwks.js'
import { buildConfig } from '../../src/config/load.js'
import { MESSAGES } from '../../src/errors.js'
import { createLogger } from '../../src/log.js'
import { Registry } from '../../src/metrics/registry.js'
import { freePort, waitFor } from '../helpers/ports.js'

// ---- keys, files, secrets -------------------------------------------------

const SECRET = randomBytes(48).toString('base64url')
const OLD_SECRET = randomBytes(48).toString('base64url')
const ENV: NodeJS.ProcessEnv = { DEVICE_JWT_SECRET: SECRET }

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const ed = generateKeyPairSync('ed25519')
const jwksA = generateKeyPairSync('rsa', { modulusLength: 2048 })
const jwksB = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 })

const dir = mkdtempSync(join(tmpdir(), 'roomgate-device-tokens-'))
function file(name: string, text: string): string {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}
const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }) as string
const RSA_PEM_TEXT = spki(rsa.publicKey)
const RSA_PEM = file('rsa.pem', RSA_PEM_TEXT)
const EC_PEM = file('ec.pem', spki(ec.publicKey))
const ED_PEM = file('ed.pem', spki(ed.publicKey))
const OLD_SECRET_FILE = file('old-secret', `${OLD_SECRET}\n`)

// ---- logs: everything written, to check that no token or secret is in it ---

let logText = ''
const log = createLogger('debug', {
  destination: new Writable({
    write(chunk: Buffer, _enc, done) {
      logText += chunk.toString()
      done()
    },
  }),
})
const issued: string[] = []

// ---- tokens ---------------------------------------------------------------

const nowSeconds = () => Math.floor(Date.now() / 1000)

/** A token for device-1 valid 5 minutes, with `claims` over that (undefined removes a claim). */
async function sign(key: KeyObject | Uint8Array, alg: string, claims: JWTPayload = {}, header: Partial<JWTHeaderParameters> = {}) {
  const payload: JWTPayload = { sub: 'device-1', exp: nowSeconds() + 300, ...claims }
  for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k]
  const token = await new SignJWT(payload).setProtectedHeader({ alg, ...header }).sign(key)
  issued.push(token)
  return token
}
const hmac = (claims?: JWTPayload, header?: Partial<JWTHeaderParameters>) => sign(Buffer.from(SECRET), 'HS256', claims, header)

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
function unsigned(claims: JWTPayload = {}): string {
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'device-1', exp: nowSeconds() + 300, ...claims })}.`
}

// ---- the JWKS endpoint ----------------------------------------------------

type Mode = 'ok' | 'unavailable' | 'reset' | 'hang' | 'hang-body' | 'junk' | 'huge'
const endpoint = { mode: 'ok' as Mode, keys: [] as JWK[], requests: 0 }
const hanging: ServerResponse[] = []
let server: Server
let JWKS_URL: string

async function jwk(k: KeyObject, kid: string, alg: string): Promise<JWK> {
  return { ...(await exportJWK(k)), kid, alg, use: 'sig' }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    endpoint.requests++
    switch (endpoint.mode) {
      case 'ok':
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: endpoint.keys }))
        return
      case 'unavailable':
        res.writeHead(503).end('down for maintenance')
        return
      case 'reset':
        req.socket.destroy()
        return
      case 'hang':
        hanging.push(res)
        return
      case 'hang-body':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100000' })
        res.write('{"keys": [')
        hanging.push(res)
        return
      case 'huge':
        res.writeHead(200, { 'content-type': 'application/json' }).end(`{"keys": [], "pad": "${'x'.repeat(MAX_JWKS_BYTES)}"}`)
        return
      case 'junk':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": "not a list"}')
        return
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  JWKS_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

// ---- verifiers ------------------------------------------------------------

/** The refetch window's clock, ms; tests move it. */
let clock = 0
let opened: DeviceVerifier[] = []

beforeEach(async () => {
  clock = 0
  endpoint.mode = 'ok'
  endpoint.keys = [await jwk(jwksA.publicKey, 'k1', 'RS256')]
  endpoint.requests = 0
})

afterEach(() => {
  for (const v of opened) v.close()
  opened = []
  for (const res of hanging.splice(0)) res.destroy()
})

/** A verifier for `devices` as the config loader makes it (defaults, checks), with its own metrics. */
function verifier(devices: Record<string, unknown>, env: NodeJS.ProcessEnv = ENV) {
  const config = buildConfig({ auth: { devices } }, env)
  const registry = new Registry()
  const v = createDeviceVerifier(config.auth.devices, { env, log, registry, now: () => clock })
  opened.push(v)
  return { v, registry }
}
const FAST_JWKS = { jwksUrl: '', jwksMinRefetchSeconds: 1, jwksTimeoutMs: 200 }
const jwksConfig = (extra: Record<string, unknown> = {}) => ({ ...FAST_JWKS, jwksUrl: JWKS_URL, ...extra })

/** The registry's count for `metric{outcome}`. */
function count(registry: Registry, metric: string, outcome: string): number {
  const line = registry
    .render()
    .split('\n')
    .find((l) => l.startsWith(`${metric}{outcome="${outcome}"} `))
  return line === undefined ? 0 : Number(line.split(' ')[1])
}
const verifications = (r: Registry, outcome: string) => count(r, 'roomgate_device_token_verifications_total', outcome)
const fetches = (r: Registry, outcome: string) => count(r, 'roomgate_jwks_fetches_total', outcome)

/** Which registry message the verifier refused with ('token_invalid' or 'token_expired'), or 'accepted'. */
async function outcomeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'accepted'
  } catch (err) {
    const e = err as { name?: string; code?: string; message?: string }
    expect(e.name).toBe('RoomgateError')
    expect(e.code).toBe('unauthorized')
    if (e.message === MESSAGES.token_expired.message) return 'token_expired'
    if (e.message === MESSAGES.token_invalid.message) return 'token_invalid'
    throw new Error(`unexpected message ${e.message}`)
  }
}

// ---- tests ----------------------------------------------------------------

describe('device tokens: accepted', () => {
  it('HS256 with the secret from the environment gives the device, its claims and its expiry', async () => {
    const { v, registry } = verifier({ hmacSecrets: [{ secretEnv: 'DEVICE_JWT_SECRET' }] })
    expect(v.enabled).toBe(true)
    expect(v.required).toBe(false)
    expect(v.leewayMs).toBe(30_000)
    const exp = nowSeconds() + 120
    const device = await v.verify(await hmac({ exp, rooms: ['lobby-*'] }))
    expect(device.deviceId).toBe('device-1')
    expect(device.expiresAt).toBe(exp * 1000)
    expect(device.claims).toMatchObject({ sub: 'device-1', rooms: ['lobby-*'], exp })
    expect(verifications(registry, 'ok')).toBe(1)
  })

  it('tries every HMAC secret, so a rotated-out secret (from a file) still verifies', async () => {
    const { v } = verifier({ hmacSecrets: [{ secretEnv: 'DEVICE_JWT_SECRET' }, { secretFile: OLD_SECRET_FILE }] })
    expect((await v.verify(await sign(Buffer.from(OLD_SECRET), 'HS256'))).deviceId).toBe('device-1')
    expect((await v.verify(await sign(Buffer.from(SECRET), 'HS512'))).deviceId).toBe('device-1')
  })

  it.each([
    { desc: 'ES256 with a PEM EC P-256 key', key: ec.privateKey, alg: 'ES256' },
    { desc: 'RS256 with a PEM RSA key', key: rsa.privateKey, alg: 'RS256' },
    { desc: 'PS384 with a PEM RSA key', key: rsa.privateKey, alg: 'PS384' },
    { desc: 'EdDSA with a PEM Ed25519 key', key: ed.privateKey, alg: 'EdDSA' },
  ])('$desc', async ({ key, alg }) => {
    const { v } = verifier({ publicKeys: [{ file: RSA_PEM }, { file: EC_PEM }, { file: ED_PEM }] })
    expect((await v.verify(await sign(key, alg, { sub: 'phone-42' }))).deviceId).toBe('phone-42')
  })

  it('takes the device id from deviceClaim, and allows leewaySeconds past exp', async () => {
    const { v } = verifier({ hmacSecrets: [{ secretEnv: 'DEVICE_JWT_SECRET' }], deviceClaim: 'device_id', leewaySeconds: 60 })
    const device = await v.verify(await hmac({ sub: 'user-9', device_id: 'tablet-7', exp: nowSeconds() - 20 }))
    expect(device.deviceId).toBe('tablet-7')
  })

  it('checks iss and aud when configured', async () => {
    const { v } = verifier({ hmacSecrets: [{ secretEnv: 'DEVICE_JWT_SECRET' }], issuer: 'https://id.example.com', audience: 'roomgate' })
    await expect(v.verify(await hmac({ iss: 'https://id.example.com', aud: ['other', 'roomgate'] }))).resolves.toMatchObject({
      deviceId: 'device-1',
    })
  })

  it('RS256 with a key from the JWKS endpoint', async () => {
    const { v, registry } = verifier(jwksConfig())
    await v.start()
    expect((await v.verify(await sign(jwksA.privateKey, 'RS256', {}, { kid: 'k1' }))).deviceId).toBe('device-1')
    expect(endpoint.requests).toBe(1)
    expect(fetches(registry, 'ok')).toBe(1)
  })
})

describe('device tokens: refused', () => {
  const ALL_KEYS = {
    hmacSecrets: [{ secretEnv: 'DEVICE_JWT_SECRET' }],
    publicKeys: [{ file: RSA_PEM }, { file: EC_PEM }],
    issuer: 'https://id.example.com',
    audience: 'roomgate',
  }
  const ok = { iss: 'https://id.example.com', aud: 'roomgate' }
  const forgedRsa = async () => {
    const [h, , s] = (await sign(rsa.privateKey, 'RS256', ok)).split('.')
    return `${h}.${b64({ ...ok, sub: 'someone-else', exp: nowSeconds() + 300 })}.${s}`
  }

  it.each([
    { desc: 'HS256 signed with another secret', token: () => sign(randomBytes(32), 'HS256', ok), code: 'token_invalid', outcome: 'bad_signature' },
    { desc: 'RS256 with a payload swapped after signing', token: forgedRsa, code: 'token_invalid', outcome: 'bad_signature' },
    { desc: 'RS256 signed by a key nobody configured', token: () => sign(stranger.privateKey, 'RS256', ok), code: 'token_invalid', outcome: 'bad_signature' },
    { desc: 'alg none', token: async () => unsigned(ok), code: 'token_invalid', outcome: 'no_key' },
    { desc: 'expired', token: () => hmac({ ...ok, exp: nowSeconds() - 120 }), code: 'token_expired', outcome: 'expired' },
    {
      desc: 'expired and forged (the signature is checked first)',
      token: () => sign(randomBytes(32), 'HS256', { ...ok, exp: nowSeconds() - 120 }),
      code: 'token_invalid',
      outcome: 'bad_signature',
    },
    { desc: 'nbf in the future', token: () => hmac({ ...ok, nbf: nowSeconds() + 600 }), code: 'token_invalid', outcome: 'bad_claims' },
    { desc: 'wrong iss', token: () => hmac({ ...ok, iss: 'https://evil.example.com' }), code: 'token_invalid', outcome: 'bad_claims' },
    { desc: 'no iss', token: () => hmac({ ...ok, iss: undefined }), code: 'token_invalid', outcome: 'bad_claims' },
    { desc: 'wrong aud', token: () => hmac({ ...ok, aud: 'someone-else' }), code: 'token_invalid', outcome: 'bad_claims' },
    { desc: 'no exp', token: () => hmac({ ...ok, exp: undefined }), code: 'token_invalid', outcome: 'bad_claims' },
    { desc: 'no device claim', token: () => hmac({ ...ok, sub: undefined }), code: 'token_invalid', outcome: 'bad_claims' },
    { desc: 'a device claim that is a number', token: () => hmac({ ...ok, sub: 42 as unknown as string }), code: 'token_invalid', outcome: 'bad_claims' },
    { desc: 'an empty device claim', token: () => hmac({ ...ok, sub: '' }), code: 'token_invalid', outcome: 'bad_claims' },
    { desc: 'a device claim with a newline', token: () => hmac({ ...ok, sub: 'a\nb' }), code: 'token_invalid', outcome: 'bad_claims' },
    { desc: 'a device claim of 257 characters', token: () => hmac({ ...ok, sub: 'x'.repeat(257) }), code: 'token_invalid', outcome: 'bad_claims' },
    { desc: 'not a JWT', token: async () => 'hello', code: 'token_invalid', outcome: 'malformed' },
    { desc: 'an empty string', token: async () => '', code: 'token_invalid', outcome: 'malformed' },
    { desc: 'three segments of junk', token: async () => 'a.b.c', code: 'token_invalid', outcome: 'malformed' },
    { desc: 'a header that is not JSON', token: async () => `${Buffer.from('{nope').toString('base64url')}.e30.`, code: 'token_invalid', outcome: 'malformed' },
    { desc: 'a huge token', token: async () => `${b64({ alg: 'HS256' })}.${'a'.repeat(20_000)}.x`, code: 'token_invalid', outcome: 'malformed' },
  ])('$desc: $code ($outcome)', async ({ token, code, outcome }) => {
    const { v, registry } = verifier(ALL_KEYS)
    expect(await outcomeOf(v.verify(await token()))).toBe(code)
    expect(verifications(registry, outcome)).toBe(1)
    expect(verifications(registry, 'ok')).toBe(0)
  })

  it('refuses an HS256 token whose secret is the RSA public key PEM (algorithm confusion)', async () => {
    const { v, registry } = verifier({ publicKeys: [{ file: RSA_PEM }] })
    const token = await sign(Buffer.from(RSA_PEM_TEXT), 'HS256')
    expect(await outcomeOf(v.verify(token))).toBe('token_invalid')
    expect(verifications(registry, 'no_key')).toBe(1)
    // The same with the key served by a JWKS: a JWKS never verifies an HS token.
    const viaJwks = verifier(jwksConfig())
    await viaJwks.v.start()
    const pem = spki(jwksA.publicKey)
    expect(await outcomeOf(viaJwks.v.verify(await sign(Buffer.from(pem), 'HS256', {}, { kid: 'k1' })))).toBe('token_invalid')
  })

  it('refuses an ES256 token presented as RS256, and an RS256 token against EC keys only', async () => {
    const { v } = verifier({ publicKeys: [{ file: EC_PEM }] })
    const [, p, s] = (await sign(ec.privateKey, 'ES256')).split('.')
    expect(await outcomeOf(v.verify(`${b64({ alg: 'RS256' })}.${p}.${s}`))).toBe('token_invalid')
    expect(await outcomeOf(v.verify(await sign(rsa.privateKey, 'RS256')))).toBe('token_invalid')
  })

  it('refuses every token when no key is configured', async () => {
    const { v, registry } = verifier({})
    expect(v.enabled).toBe(false)
    expect(await outcomeOf(v.verify(await hmac()))).toBe('token_invalid')
    expect(verifications(registry, 'no_key')).toBe(1)
  })
})

describe('device tokens: the JWKS endpoint', () => {
  const tokenFor = (kid: string) => (kid === 'k2' ? sign(jwksB.privateKey, 'ES256', {}, { kid }) : sign(jwksA.privateKey, 'RS256', {}, { kid }))

  it('accepts a key published after start without a restart, refetching at most once per jwksMinRefetchSeconds', async () => {
    const { v, registry } = verifier(jwksConfig())
    await v.start()
    expect(endpoint.requests).toBe(1)
    endpoint.keys = [...endpoint.keys, await jwk(jwksB.publicKey, 'k2', 'ES256')]

    // Within the window of the start-up read: not read again, refused.
    expect(await outcomeOf(v.verify(await tokenFor('k2')))).toBe('token_invalid')
    expect(endpoint.requests).toBe(1)

    clock += 1_000
    expect(await outcomeOf(v.verify(await tokenFor('k2')))).toBe('accepted')
    expect(endpoint.requests).toBe(2)
    expect(await outcomeOf(v.verify(await tokenFor('k1')))).toBe('accepted')

    // An unknown kid, many times at once, after the window: one read shared by all.
    clock += 1_000
    const unknown = await sign(jwksA.privateKey, 'RS256', {}, { kid: 'k3' })
    const results = await Promise.all(Array.from({ length: 8 }, () => outcomeOf(v.verify(unknown))))
    expect(results).toEqual(Array(8).fill('token_invalid'))
    expect(endpoint.requests).toBe(3)
    // And again inside the window: not read.
    expect(await outcomeOf(v.verify(unknown))).toBe('token_invalid')
    expect(endpoint.requests).toBe(3)
    expect(verifications(registry, 'unknown_kid')).toBe(10)
    expect(verifications(registry, 'ok')).toBe(2)
    expect(fetches(registry, 'ok')).toBe(3)
  })

  it('stops accepting a key withdrawn at the endpoint once the set is read again', async () => {
    const { v } = verifier(jwksConfig())
    await v.start()
    endpoint.keys = [await jwk(jwksB.publicKey, 'k2', 'ES256')]
    clock += 1_000
    expect(await outcomeOf(v.verify(await tokenFor('k2')))).toBe('accepted')
    expect(await outcomeOf(v.verify(await tokenFor('k1')))).toBe('token_invalid')
  })

  it.each([
    { desc: 'answers 503', mode: 'unavailable' as const, outcome: 'error' },
    { desc: 'resets the connection', mode: 'reset' as const, outcome: 'error' },
    { desc: 'answers something that is not a key set', mode: 'junk' as const, outcome: 'error' },
    { desc: 'answers more than MAX_JWKS_BYTES', mode: 'huge' as const, outcome: 'error' },
    { desc: 'hangs before answering', mode: 'hang' as const, outcome: 'timeout' },
    { desc: 'hangs in the middle of the body', mode: 'hang-body' as const, outcome: 'timeout' },
  ])('when the endpoint $desc, cached keys work and an unknown kid is refused', async ({ mode, outcome }) => {
    const { v, registry } = verifier(jwksConfig())
    await v.start()
    endpoint.mode = mode
    clock += 1_000
    // The unknown kid waits for the read (at most jwksTimeoutMs); the known one does not.
    const unknown = outcomeOf(v.verify(await tokenFor('k2')))
    expect(await outcomeOf(v.verify(await tokenFor('k1')))).toBe('accepted')
    expect(await unknown).toBe('token_invalid')
    expect(fetches(registry, outcome)).toBe(1)
    expect(verifications(registry, 'unknown_kid')).toBe(1)
    expect(await outcomeOf(v.verify(await tokenFor('k1')))).toBe('accepted')

    // Back up with a new key: picked up at the next refetch.
    for (const res of hanging.splice(0)) res.destroy()
    endpoint.mode = 'ok'
    endpoint.keys = [...endpoint.keys, await jwk(jwksB.publicKey, 'k2', 'ES256')]
    clock += 1_000
    expect(await outcomeOf(v.verify(await tokenFor('k2')))).toBe('accepted')
  })

  it('starts when the first read fails (logged, not thrown) and gets the keys later', async () => {
    endpoint.mode = 'hang'
    const { v, registry } = verifier(jwksConfig())
    await expect(v.start()).resolves.toBeUndefined()
    expect(fetches(registry, 'timeout')).toBe(1)
    expect(logText).toContain('JWKS cannot be read')
    expect(await outcomeOf(v.verify(await tokenFor('k1')))).toBe('token_invalid')

    endpoint.mode = 'ok'
    clock += 1_000
    expect(await outcomeOf(v.verify(await tokenFor('k1')))).toBe('accepted')
    expect(logText).toContain('JWKS readable again')
  })

  it('refuses, never throws otherwise, when nothing listens at the URL', async () => {
    const port = await freePort()
    const { v, registry } = verifier(jwksConfig({ jwksUrl: `http://127.0.0.1:${port}/jwks.json` }))
    await v.start()
    clock += 1_000
    expect(await outcomeOf(v.verify(await tokenFor('k1')))).toBe('token_invalid')
    expect(fetches(registry, 'error')).toBe(2)
  })

  it('tries each JWKS key when the token has no kid', async () => {
    endpoint.keys = [await jwk(stranger.publicKey, 'a', 'RS256'), await jwk(jwksA.publicKey, 'b', 'RS256')]
    const { v } = verifier(jwksConfig())
    await v.start()
    expect(await outcomeOf(v.verify(await sign(jwksA.privateKey, 'RS256')))).toBe('accepted')
  })

  it('reads the set again in the background every refresh interval', async () => {
    const registry = new Registry()
    const cache = new JwksCache({ url: JWKS_URL, timeoutMs: 200, minRefetchMs: 3_600_000, refreshMs: 20, log, registry, now: () => clock })
    try {
      await cache.start()
      const header = { alg: 'ES256', kid: 'k2' }
      expect(await cache.keysFor(header)).toEqual([])
      endpoint.keys = [await jwk(jwksB.publicKey, 'k2', 'ES256')]
      const seen = endpoint.requests
      await waitFor(() => endpoint.requests > seen + 1, 10_000, 'two background reads')
      expect(await cache.keysFor(header)).toHaveLength(1)
    } finally {
      cache.close()
    }
  })
})

describe('device tokens: logs', () => {
  it('never carry a token or a secret', () => {
    expect(logText).toContain('device token refused')
    for (const token of issued) {
      expect(logText).not.toContain(token)
      expect(logText).not.toContain(token.split('.')[2])
    }
    expect(logText).not.toContain(SECRET)
    expect(logText).not.toContain(OLD_SECRET)
  })
})
