/**
 * The keys of `auth.devices` (issue 13) as the config check reads them: each
 * problem a deployment can have (a variable not set, a file unreadable, a
 * private key where a public one belongs, a weak key, `required` without
 * any key) stops the load with a message that names the dotted key and
 * never the secret; what loads carries the algorithms its type allows.
 */
import { execFileSync } from 'node:child_process'
import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { createDeviceVerifier } from '../../src/auth/device-tokens.js'
import { loadDeviceKeys } from '../../src/config/device-keys.js'
import { buildConfig, ConfigError, loadConfig } from '../../src/config/load.js'
import { Registry } from '../../src/metrics/registry.js'
import { silentLog } from '../helpers/log.js'

const dir = mkdtempSync(join(tmpdir(), 'roomgate-device-keys-'))
function file(name: string, text: string): string {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}
const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }) as string
const SECRET = randomBytes(48).toString('base64url')

const RSA_PEM = file('rsa.pem', spki(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey))
const EC_PEM = file('ec.pem', spki(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey))
const ED_PEM = file('ed.pem', spki(generateKeyPairSync('ed25519').publicKey))
const SMALL_RSA_PEM = file('rsa-1024.pem', spki(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey))
const K1_PEM = file('secp256k1.pem', spki(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey))
const ED448_PEM = file('ed448.pem', spki(generateKeyPairSync('ed448').publicKey))
const PRIVATE_PEM = file('private.pem', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)
const JUNK_PEM = file('junk.pem', 'not a key\n')
const BROKEN_PEM = file('broken.pem', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n')
const SECRET_FILE = file('secret', `${SECRET}\n`)
const MISSING = join(dir, 'missing.pem')

/** The load's error message for `auth.devices` (or '' when it loads). */
function loadError(devices: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): string {
  try {
    buildConfig({ auth: { devices } }, env)
    return ''
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as Error).message
  }
}

describe('auth.devices: problems stop the load and name the key', () => {
  it.each([
    {
      desc: 'a secretEnv that is not set',
      devices: { hmacSecrets: [{ secretEnv: 'DEVICE_JWT_SECRET' }] },
      error: 'auth.devices.hmacSecrets[0].secretEnv DEVICE_JWT_SECRET is not set',
    },
    {
      desc: 'a secretEnv that is empty',
      devices: { hmacSecrets: [{ secretEnv: 'GOOD' }, { secretEnv: 'EMPTY' }] },
      error: 'auth.devices.hmacSecrets[1].secretEnv EMPTY is empty',
    },
    {
      desc: 'a secret shorter than 32 bytes',
      devices: { hmacSecrets: [{ secretEnv: 'SHORT' }] },
      error: 'auth.devices.hmacSecrets[0].secretEnv SHORT is shorter than 32 bytes (RFC 7518 §3.2)',
    },
    {
      desc: 'a secretFile that cannot be read',
      devices: { hmacSecrets: [{ secretFile: MISSING }] },
      error: `auth.devices.hmacSecrets[0].secretFile ${MISSING} cannot be read (ENOENT)`,
    },
    {
      desc: 'a key file that cannot be read',
      devices: { publicKeys: [{ file: RSA_PEM }, { file: MISSING }] },
      error: `auth.devices.publicKeys[1].file ${MISSING} cannot be read (ENOENT)`,
    },
    {
      desc: 'a key file that is a directory',
      devices: { publicKeys: [{ file: dir }] },
      error: `auth.devices.publicKeys[0].file ${dir} is not a regular file`,
    },
    {
      desc: 'a private key',
      devices: { publicKeys: [{ file: PRIVATE_PEM }] },
      error: `auth.devices.publicKeys[0].file ${PRIVATE_PEM} holds a private key: give the public key (SPKI PEM) or a certificate`,
    },
    {
      desc: 'a file that is not PEM',
      devices: { publicKeys: [{ file: JUNK_PEM }] },
      error: `auth.devices.publicKeys[0].file ${JUNK_PEM} is not a PEM public key or certificate`,
    },
    {
      desc: 'a PEM block that does not parse',
      devices: { publicKeys: [{ file: BROKEN_PEM }] },
      error: `auth.devices.publicKeys[0].file ${BROKEN_PEM} cannot be parsed as a PEM public key or certificate`,
    },
    {
      desc: 'an RSA key under 2048 bits',
      devices: { publicKeys: [{ file: SMALL_RSA_PEM }] },
      error: `auth.devices.publicKeys[0].file ${SMALL_RSA_PEM} is an RSA key of 1024 bits: at least 2048 are required`,
    },
    {
      desc: 'an EC key on a curve JWS has no algorithm for',
      devices: { publicKeys: [{ file: K1_PEM }] },
      error: `auth.devices.publicKeys[0].file ${K1_PEM} is an EC key on curve secp256k1: use P-256, P-384 or P-521`,
    },
    {
      desc: 'an Ed448 key',
      devices: { publicKeys: [{ file: ED448_PEM }] },
      error: `auth.devices.publicKeys[0].file ${ED448_PEM} is a ed448 key: use RSA, EC (P-256, P-384, P-521) or Ed25519`,
    },
    {
      desc: 'required without any key',
      devices: { required: true },
      error: 'auth.devices.required is true but no key is configured: set hmacSecrets, publicKeys or jwksUrl',
    },
    {
      desc: 'a jwksUrl with credentials',
      devices: { jwksUrl: 'https://user:pw@id.example.com/jwks.json' },
      error: 'auth.devices.jwksUrl must not carry a user or password',
    },
  ])('$desc', ({ devices, error }) => {
    const message = loadError(devices, { GOOD: SECRET, EMPTY: '', SHORT: 'too-short' })
    expect(message).toContain(error)
    expect(message).not.toContain('too-short')
  })

  it('reports every problem at once', () => {
    const message = loadError({ hmacSecrets: [{ secretEnv: 'A_SECRET' }], publicKeys: [{ file: MISSING }] })
    expect(message).toContain('hmacSecrets[0].secretEnv A_SECRET is not set')
    expect(message).toContain(`publicKeys[0].file ${MISSING} cannot be read`)
  })

  it('loads when every key is there, and without any key when not required', () => {
    expect(loadError({})).toBe('')
    expect(loadError({ required: true, jwksUrl: 'https://id.example.com/jwks.json' })).toBe('')
    const devices = {
      required: true,
      hmacSecrets: [{ secretEnv: 'DEVICE_JWT_SECRET' }, { secretFile: SECRET_FILE }],
      publicKeys: [{ file: RSA_PEM }, { file: EC_PEM }, { file: ED_PEM }],
    }
    expect(loadError(devices, { DEVICE_JWT_SECRET: `${SECRET}\n` })).toBe('')
  })

  it('takes key files relative to the config file', () => {
    const sub = mkdtempSync(join(dir, 'conf-'))
    writeFileSync(join(sub, 'device.pem'), spki(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey))
    writeFileSync(join(sub, 'hmac'), SECRET)
    const cfg = join(sub, 'roomgate.yaml')
    writeFileSync(cfg, 'auth:\n  devices:\n    hmacSecrets: [{ secretFile: hmac }]\n    publicKeys: [{ file: device.pem }]\n')
    const config = loadConfig({ file: cfg, env: {} })
    expect(config.auth.devices.publicKeys[0]!.file).toBe(join(sub, 'device.pem'))
    expect(config.auth.devices.hmacSecrets[0]).toEqual({ secretFile: join(sub, 'hmac') })
  })
})

describe('auth.devices: what each key verifies', () => {
  const algorithms = (devices: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => {
    const { keys, problems } = loadDeviceKeys({ ...buildConfig({}, {}).auth.devices, ...devices }, env)
    expect(problems).toEqual([])
    return keys.map((k) => [...k.algorithms].sort())
  }

  it('gives RSA keys RS and PS, EC keys the ES of their curve, Ed25519 EdDSA', () => {
    expect(algorithms({ publicKeys: [{ file: RSA_PEM }, { file: EC_PEM }, { file: ED_PEM }] })).toEqual([
      ['PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'],
      ['ES384'],
      ['Ed25519', 'EdDSA'],
    ])
  })

  it('gives an HMAC secret only the HS algorithms its length allows', () => {
    const env = { S32: 'x'.repeat(32), S48: 'x'.repeat(48), S64: 'x'.repeat(64) }
    expect(algorithms({ hmacSecrets: [{ secretEnv: 'S32' }, { secretEnv: 'S48' }, { secretEnv: 'S64' }] }, env)).toEqual([
      ['HS256'],
      ['HS256', 'HS384'],
      ['HS256', 'HS384', 'HS512'],
    ])
  })

  // Needs the `openssl` command (Debian's openssl package): a missing one fails this test, it is not skipped.
  it('takes an X.509 certificate, and verifies tokens with its key', async () => {
    const keyFile = join(dir, 'cert-key.pem')
    const certFile = join(dir, 'cert.pem')
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=roomgate-test'], {
      stdio: 'ignore',
    })
    const config = buildConfig({ auth: { devices: { publicKeys: [{ file: certFile }] } } }, {})
    const verifier = createDeviceVerifier(config.auth.devices, { env: {}, log: silentLog, registry: new Registry() })
    const token = await new SignJWT({ sub: 'cert-device' })
      .setProtectedHeader({ alg: 'ES256' })
      .setExpirationTime('5m')
      .sign(createPrivateKey(readFileSync(keyFile)))
    expect((await verifier.verify(token)).deviceId).toBe('cert-device')
  })

  it('reload reads the secret file again: a token of the old secret is refused, one of the new accepted', async () => {
    const secretFile = file('rotated', `${SECRET}\n`)
    const config = buildConfig({ auth: { devices: { hmacSecrets: [{ secretFile }] } } }, {})
    const verifier = createDeviceVerifier(config.auth.devices, { env: {}, log: silentLog, registry: new Registry() })
    const sign = (secret: string) => new SignJWT({ sub: 'd1' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(Buffer.from(secret))
    const old = await sign(SECRET)
    expect((await verifier.verify(old)).deviceId).toBe('d1')
    const rotated = randomBytes(48).toString('base64url')
    writeFileSync(secretFile, `${rotated}\n`)
    await verifier.reload(config.auth.devices)
    await expect(verifier.verify(old)).rejects.toThrow(/Invalid device token/)
    expect((await verifier.verify(await sign(rotated))).deviceId).toBe('d1')
    writeFileSync(secretFile, '')
    await expect(verifier.reload(config.auth.devices)).rejects.toThrow(ConfigError)
    expect((await verifier.verify(await sign(rotated))).deviceId).toBe('d1')
  })

  it('createDeviceVerifier refuses, naming the key, when a secret is gone since the load', () => {
    const config = buildConfig({ auth: { devices: { hmacSecrets: [{ secretEnv: 'DEVICE_JWT_SECRET' }] } } }, { DEVICE_JWT_SECRET: SECRET })
    expect(() => createDeviceVerifier(config.auth.devices, { env: {}, log: silentLog, registry: new Registry() })).toThrow(
      new ConfigError('auth.devices.hmacSecrets[0].secretEnv DEVICE_JWT_SECRET is not set'),
    )
  })
})
