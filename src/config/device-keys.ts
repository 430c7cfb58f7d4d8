/**
 * The keys `auth.devices` names (issue 13), read once: HMAC secrets from the
 * environment or a file, PEM public keys and certificates from files. The
 * same reading serves the config check (`roomgate config check`, start-up),
 * whose messages name the dotted key, and the verifier (auth/device-tokens.ts),
 * which gets the keys. A message names the variable or the file, never a value.
 *
 * Each key carries the algorithms its type allows, so a token is only ever
 * checked with a key of its own kind: an HS token never meets an RSA public
 * key (the algorithm confusion attack), and `none` meets no key at all.
 */
import { httpUrl } from './urls.js'
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto'
import { readSecretFile, stripNewline } from '../status/credentials.js'
import type { Config } from './schema.js'

export type DevicesConfig = Config['auth']['devices']

export interface DeviceKey {
  readonly key: KeyObject
  /** The JWS `alg` values this key verifies. */
  readonly algorithms: ReadonlySet<string>
  /** Where it was configured (`auth.devices.publicKeys[0].file`), for logs. */
  readonly at: string
}

/** RFC 7518 §3.2: an HMAC key at least as long as the hash output. */
export const HMAC_MIN_BYTES = { HS256: 32, HS384: 48, HS512: 64 } as const
/** jose (and NIST) refuse shorter RSA keys for RS/PS. */
export const RSA_MIN_BITS = 2048

const RSA_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
const EC_ALGS: Readonly<Record<string, string>> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' }
const ED25519_ALGS = ['EdDSA', 'Ed25519']
/** PEM labels that hold only public material. */
const PUBLIC_LABELS = new Set(['PUBLIC KEY', 'RSA PUBLIC KEY', 'CERTIFICATE'])

const AT = 'auth.devices'

/** The configured keys, and every reason one could not be had (each naming its dotted key). */
export function loadDeviceKeys(devices: DevicesConfig, env: NodeJS.ProcessEnv): { keys: DeviceKey[]; problems: string[] } {
  const keys: DeviceKey[] = []
  const problems: string[] = []
  const take = (r: DeviceKey | string) => (typeof r === 'string' ? problems.push(r) : keys.push(r))

  devices.hmacSecrets.forEach((s, i) => take(hmacKey(s, `${AT}.hmacSecrets[${i}]`, env)))
  devices.publicKeys.forEach((k, i) => take(publicKey(k.file, `${AT}.publicKeys[${i}].file`)))
  if (devices.jwksUrl !== undefined) {
    const problem = jwksUrlProblem(devices.jwksUrl)
    if (problem) problems.push(`${AT}.jwksUrl ${problem}`)
  }
  if (devices.required && !hasKeySource(devices)) {
    problems.push(`${AT}.required is true but no key is configured: set hmacSecrets, publicKeys or jwksUrl`)
  }
  return { keys, problems }
}

export function hasKeySource(devices: DevicesConfig): boolean {
  return devices.hmacSecrets.length > 0 || devices.publicKeys.length > 0 || devices.jwksUrl !== undefined
}

/** Problems with `auth.devices`, each naming its dotted key (the env var or file named must be there). */
export function checkDevicesConfig(config: { readonly auth: { readonly devices: DevicesConfig } }, env: NodeJS.ProcessEnv): string[] {
  return loadDeviceKeys(config.auth.devices, env).problems
}

function hmacKey(source: DevicesConfig['hmacSecrets'][number], at: string, env: NodeJS.ProcessEnv): DeviceKey | string {
  let value: string
  let where: string
  if ('secretEnv' in source) {
    where = `${at}.secretEnv ${source.secretEnv}`
    const raw = env[source.secretEnv]
    if (raw === undefined) return `${where} is not set`
    value = stripNewline(raw)
  } else {
    where = `${at}.secretFile`
    try {
      value = readSecretFile(source.secretFile, { cached: false })
    } catch (err) {
      return `${where} ${(err as Error).message}`
    }
    where = `${where} ${source.secretFile}`
  }
  const bytes = Buffer.from(value, 'utf8')
  if (bytes.length === 0) return `${where} is empty`
  if (bytes.length < HMAC_MIN_BYTES.HS256) return `${where} is shorter than ${HMAC_MIN_BYTES.HS256} bytes (RFC 7518 §3.2)`
  const algorithms = Object.entries(HMAC_MIN_BYTES)
    .filter(([, min]) => bytes.length >= min)
    .map(([alg]) => alg)
  return { key: createSecretKey(bytes), algorithms: new Set(algorithms), at }
}

function publicKey(file: string, at: string): DeviceKey | string {
  let pem: string
  try {
    pem = readSecretFile(file, { cached: false })
  } catch (err) {
    return `${at} ${(err as Error).message}`
  }
  const where = `${at} ${file}`
  const labels = [...pem.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((m) => m[1]!)
  // A private key next to the gateway is a leak waiting to happen; the public half is all it needs.
  if (labels.some((l) => l.includes('PRIVATE'))) return `${where} holds a private key: give the public key (SPKI PEM) or a certificate`
  if (labels.length === 0 || !PUBLIC_LABELS.has(labels[0]!)) {
    return `${where} is not a PEM public key or certificate (-----BEGIN PUBLIC KEY----- or -----BEGIN CERTIFICATE-----)`
  }
  let key: KeyObject
  try {
    key = createPublicKey(pem)
  } catch {
    return `${where} cannot be parsed as a PEM public key or certificate`
  }
  const algorithms = algorithmsOf(key)
  if (typeof algorithms === 'string') return `${where} ${algorithms}`
  return { key, algorithms: new Set(algorithms), at }
}

/** The JWS algorithms a public key verifies, or why it cannot be used. */
function algorithmsOf(key: KeyObject): string[] | string {
  const type = key.asymmetricKeyType
  const details = key.asymmetricKeyDetails ?? {}
  switch (type) {
    case 'rsa': {
      const bits = details.modulusLength ?? 0
      return bits >= RSA_MIN_BITS ? RSA_ALGS : `is an RSA key of ${bits} bits: at least ${RSA_MIN_BITS} are required`
    }
    case 'ec': {
      const alg = EC_ALGS[details.namedCurve ?? '']
      return alg ? [alg] : `is an EC key on curve ${details.namedCurve ?? 'unknown'}: use P-256, P-384 or P-521`
    }
    case 'ed25519':
      return ED25519_ALGS
    default:
      return `is a ${type ?? 'unknown'} key: use RSA, EC (P-256, P-384, P-521) or Ed25519`
  }
}

function jwksUrlProblem(text: string): string | undefined {
  const url = httpUrl(text)
  if (typeof url === 'string') return url
  if (url.username || url.password) return 'must not carry a user or password'
  return undefined
}
