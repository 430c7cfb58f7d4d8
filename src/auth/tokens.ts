/**
 * Credential checks that do not leak through timing: the presented value is
 * hashed and compared as a fixed-length digest, so neither its content nor its
 * length shapes how long the check takes.
 */
import { hash, timingSafeEqual } from 'node:crypto'

// One-shot hashing: no Hash object per request (this runs on every authenticated call).
const digest = (s: string): Buffer => hash('sha256', s, 'buffer')

/** Constant-time equality of two secrets of any length. */
export function safeEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected))
}

/** A set of accepted secrets (bearer tokens, API keys), looked up by digest. */
export class SecretSet {
  private digests: Set<string>

  constructor(secrets: readonly string[]) {
    this.digests = digests(secrets)
  }

  /** A config reload: every check that holds this set takes the new secrets from its next call. */
  replace(secrets: readonly string[]): void {
    this.digests = digests(secrets)
  }

  get size(): number {
    return this.digests.size
  }

  has(presented: string | undefined): boolean {
    return presented !== undefined && presented !== '' && this.digests.has(hash('sha256', presented, 'base64'))
  }
}

const digests = (secrets: readonly string[]) => new Set(secrets.map((s) => hash('sha256', s, 'base64')))

/**
 * The secrets of `auth`, one set each, shared by every check that takes them
 * (proxy routes, the rooms and jobs APIs, the dashboard, /internal/broadcast),
 * so a reload reaches all of them at once.
 */
export class AuthSecrets {
  readonly bearerTokens = new SecretSet([])
  readonly apiKeys = new SecretSet([])
  /** Empty while `auth.internalToken` is '': the internal API then refuses every call. */
  readonly internalToken = new SecretSet([])

  constructor(auth: AuthSecretsConfig) {
    this.reload(auth)
  }

  reload(auth: AuthSecretsConfig): void {
    this.bearerTokens.replace(auth.bearerTokens)
    this.apiKeys.replace(auth.apiKeys)
    this.internalToken.replace(auth.internalToken === '' ? [] : [auth.internalToken])
  }
}

export interface AuthSecretsConfig {
  bearerTokens: readonly string[]
  apiKeys: readonly string[]
  internalToken: string
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined
  const m = /^Bearer[ \t]+(\S+)\s*$/i.exec(header)
  return m?.[1]
}
