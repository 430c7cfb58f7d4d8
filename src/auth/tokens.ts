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
  private readonly digests: Set<string>

  constructor(secrets: readonly string[]) {
    this.digests = new Set(secrets.map((s) => hash('sha256', s, 'base64')))
  }

  get size(): number {
    return this.digests.size
  }

  has(presented: string | undefined): boolean {
    return presented !== undefined && presented !== '' && this.digests.has(hash('sha256', presented, 'base64'))
  }
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined
  const m = /^Bearer[ \t]+(\S+)\s*$/i.exec(header)
  return m?.[1]
}
