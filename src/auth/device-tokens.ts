/**
 * The device token verifier (issue 13): a JWT signed with one of the keys of
 * `auth.devices` (HMAC secrets, PEM public keys, a JWKS endpoint) gives a
 * device id that a client cannot make up. jose does the cryptography and
 * the claim checks; this file picks the keys and says what went wrong.
 *
 * A token is only tried against keys whose type matches its `alg` (see
 * config/device-keys.ts): `none` and HS-with-a-public-key find no key.
 * `exp` is required; `iss`/`aud` are checked when configured; `nbf` and
 * `exp` allow `leewaySeconds`. Whatever fails, `verify` rejects with
 * `token_expired` (an expired token whose signature is good) or
 * `token_invalid`, and counts the outcome; the token never reaches a log.
 */
import { decodeProtectedHeader, errors, importSPKI, jwtVerify, type CryptoKey, type JWTVerifyOptions, type ProtectedHeaderParameters } from 'jose'
import type { KeyObject } from 'node:crypto'
import { ConfigError } from '../config/load.js'
import { hasKeySource, loadDeviceKeys, type DeviceKey, type DevicesConfig } from '../config/device-keys.js'
import { RoomgateError } from '../errors.js'
import type { Logger } from '../log.js'
import type { CounterChild, Registry } from '../metrics/registry.js'
import { isValidDeviceId } from '../realtime/local-events.js'
import type { DeviceVerifier, VerifiedDevice } from './device-identity.js'
import { JwksCache } from './jwks.js'

/** Far above any real JWT (a few hundred bytes to a few kB); bounds the work a junk token costs. */
export const MAX_TOKEN_CHARS = 16 * 1024

const OUTCOMES = ['ok', 'expired', 'bad_signature', 'unknown_kid', 'bad_claims', 'malformed', 'no_key'] as const
type Outcome = (typeof OUTCOMES)[number]

/** The algorithms a JWKS can serve: public-key ones (a JWKS never holds an HMAC secret for us). */
const JWKS_ALGS = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'])

export interface DeviceVerifierDeps {
  env: NodeJS.ProcessEnv
  log: Logger
  registry: Registry
  /** The clock of the JWKS refetch window, monotonic ms (tests move it). @defaultValue `performance.now` */
  now?: () => number
}

/** Throws a `ConfigError` naming the key when a configured secret or key file cannot be used. */
export function createDeviceVerifier(devices: DevicesConfig, deps: DeviceVerifierDeps): ReloadableVerifier {
  return new ReloadableVerifier(tokenVerifier(devices, deps), deps)
}

function tokenVerifier(devices: DevicesConfig, deps: DeviceVerifierDeps): TokenVerifier {
  const { keys, problems } = loadDeviceKeys(devices, deps.env)
  if (problems.length > 0) throw new ConfigError(problems.join('; '))
  return new TokenVerifier(devices, keys, deps)
}

/**
 * The verifier roomgate holds. A config reload builds a new one from
 * `auth.devices` (its secret and key files read again), reads its JWKS, and
 * only then puts it in place; a check already under way ends with the keys
 * it began with.
 */
export class ReloadableVerifier implements DeviceVerifier {
  private started = false
  private closed = false

  constructor(
    private current: TokenVerifier,
    private readonly deps: DeviceVerifierDeps,
  ) {}

  get enabled(): boolean {
    return this.current.enabled
  }

  get required(): boolean {
    return this.current.required
  }

  get leewayMs(): number {
    return this.current.leewayMs
  }

  verify(token: string): Promise<VerifiedDevice> {
    return this.current.verify(token)
  }

  async start(): Promise<void> {
    this.started = true
    await this.current.start()
  }

  close(): void {
    this.closed = true
    this.current.close()
  }

  /** Throws a `ConfigError` (and keeps the keys in use) when a secret or key file cannot be used. */
  async reload(devices: DevicesConfig): Promise<void> {
    const next = tokenVerifier(devices, this.deps)
    if (this.started) await next.start()
    if (this.closed) return next.close()
    const previous = this.current
    this.current = next
    previous.close()
  }
}

/** Why a token was refused; `detail` is for a debug log and never quotes the token. */
class Refusal extends Error {
  constructor(
    readonly outcome: Outcome,
    detail: string,
  ) {
    super(detail)
  }
}

class TokenVerifier implements DeviceVerifier {
  readonly enabled: boolean
  readonly required: boolean
  readonly leewayMs: number
  private readonly jwks: JwksCache | undefined
  private readonly counts: Record<Outcome, CounterChild>

  private readonly cryptoKeys = new WeakMap<KeyObject, Map<string, Promise<KeyObject | CryptoKey>>>()

  constructor(
    private readonly devices: DevicesConfig,
    private readonly keys: readonly DeviceKey[],
    private readonly deps: DeviceVerifierDeps,
  ) {
    this.enabled = hasKeySource(devices)
    this.required = devices.required
    this.leewayMs = devices.leewaySeconds * 1000
    const counter = deps.registry.counter(
      'roomgate_device_token_verifications_total',
      'Device tokens checked, by outcome (ok, expired, bad_signature, unknown_kid, bad_claims, malformed, no_key).',
      ['outcome'],
    )
    this.counts = Object.fromEntries(OUTCOMES.map((o) => [o, counter.child(o)])) as Record<Outcome, CounterChild>
    this.jwks =
      devices.jwksUrl === undefined
        ? undefined
        : new JwksCache({
            url: devices.jwksUrl,
            timeoutMs: devices.jwksTimeoutMs,
            minRefetchMs: devices.jwksMinRefetchSeconds * 1000,
            refreshMs: devices.jwksRefreshSeconds * 1000,
            log: deps.log,
            registry: deps.registry,
            ...(deps.now ? { now: deps.now } : {}),
          })
  }

  async start(): Promise<void> {
    await this.jwks?.start()
  }

  close(): void {
    this.jwks?.close()
  }

  async verify(token: string): Promise<VerifiedDevice> {
    let device: VerifiedDevice
    try {
      device = await this.check(token)
    } catch (err) {
      const refusal = err instanceof Refusal ? err : classify(err)
      this.counts[refusal.outcome].inc()
      this.deps.log.debug({ outcome: refusal.outcome, reason: refusal.message }, 'device token refused')
      if (refusal.outcome === 'expired') throw new RoomgateError('token_expired')
      throw new RoomgateError('token_invalid')
    }
    this.counts.ok.inc()
    return device
  }

  private async check(token: string): Promise<VerifiedDevice> {
    if (!this.enabled) throw new Refusal('no_key', 'auth.devices has no key source')
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_CHARS) {
      throw new Refusal('malformed', `not a token of 1 to ${MAX_TOKEN_CHARS} characters`)
    }
    let header: ProtectedHeaderParameters
    try {
      header = decodeProtectedHeader(token)
    } catch {
      throw new Refusal('malformed', 'the header is not a JWS protected header')
    }
    const alg = header.alg
    if (typeof alg !== 'string') throw new Refusal('malformed', 'the header has no alg')

    let badSignature: unknown
    const attempt = async (key: KeyObject | CryptoKey): Promise<VerifiedDevice | undefined> => {
      try {
        return this.accept((await jwtVerify(token, key, this.options(alg))).payload)
      } catch (err) {
        // Another key may have signed it; any other failure is the token's own.
        if (!(err instanceof errors.JWSSignatureVerificationFailed)) throw err
        badSignature = err
        return undefined
      }
    }

    for (const k of this.keys) {
      if (!k.algorithms.has(alg)) continue
      const device = await attempt(await this.prepared(k.key, alg))
      if (device) return device
    }
    if (this.jwks && JWKS_ALGS.has(alg)) {
      const keys = await this.jwks.keysFor(header)
      if (keys.length === 0 && badSignature === undefined) throw new Refusal('unknown_kid', 'no key of the JWKS matches kid and alg')
      for (const key of keys) {
        const device = await attempt(key)
        if (device) return device
      }
    }
    if (badSignature !== undefined) throw new Refusal('bad_signature', 'no key verifies the signature')
    throw new Refusal('no_key', `no configured key takes alg ${JSON.stringify(alg.slice(0, 16))}`)
  }

  /**
   * The key as a WebCrypto key for `alg`, imported once: jose would convert a
   * KeyObject on every verification (about half of an HS256 check's time on
   * Node 20). If WebCrypto cannot take it, the KeyObject itself.
   */
  private prepared(key: KeyObject, alg: string): Promise<KeyObject | CryptoKey> {
    let byAlg = this.cryptoKeys.get(key)
    if (!byAlg) this.cryptoKeys.set(key, (byAlg = new Map()))
    let p = byAlg.get(alg)
    if (!p) {
      p = toCryptoKey(key, alg).catch(() => key)
      byAlg.set(alg, p)
    }
    return p
  }

  private options(alg: string): JWTVerifyOptions {
    const { issuer, audience, leewaySeconds } = this.devices
    return {
      algorithms: [alg],
      requiredClaims: ['exp'],
      clockTolerance: leewaySeconds,
      ...(issuer === undefined ? {} : { issuer }),
      ...(audience === undefined ? {} : { audience }),
    }
  }

  private accept(payload: Record<string, unknown>): VerifiedDevice {
    const claim = this.devices.deviceClaim
    const deviceId = payload[claim]
    if (!isValidDeviceId(deviceId)) {
      throw new Refusal('bad_claims', `claim ${claim} is not a string of 1 to 256 printable characters`)
    }
    // requiredClaims and jose's own checks make exp a number here.
    return { deviceId, claims: Object.freeze({ ...payload }), expiresAt: (payload.exp as number) * 1000 }
  }
}

/** jose's error, as an outcome. */
function classify(err: unknown): Refusal {
  const code = (err as { code?: unknown } | null)?.code
  const detail = err instanceof errors.JOSEError ? err.message : 'unexpected error'
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return new Refusal('expired', detail)
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return new Refusal('bad_claims', detail)
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new Refusal('bad_signature', detail)
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return new Refusal('unknown_kid', detail)
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return new Refusal('malformed', detail)
    default:
      // Not allowed or not supported algorithms, a JWKS member that cannot be imported, a key jose refuses.
      return new Refusal('no_key', detail)
  }
}

/** A KeyObject as the WebCrypto key jose wants for `alg` (HMAC raw, or SPKI). */
async function toCryptoKey(key: KeyObject, alg: string): Promise<CryptoKey> {
  if (key.type === 'secret') {
    const hash = `SHA-${alg.slice(2)}`
    return globalThis.crypto.subtle.importKey('raw', key.export(), { name: 'HMAC', hash }, false, ['verify'])
  }
  return importSPKI(key.export({ type: 'spki', format: 'pem' }) as string, alg)
}
