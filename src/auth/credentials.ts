import type { onRequestHookHandler } from 'fastify'
import { RoomgateError } from '../errors.js'
import { bearerToken, SecretSet } from './tokens.js'

export type AuthKind = 'none' | 'bearer' | 'apiKey'

/** A hook that requires `Authorization: Bearer <token>` or `X-API-Key: <key>`; undefined for `none`. */
export function credentialGuard(
  kind: AuthKind,
  secrets: { bearerTokens: readonly string[]; apiKeys: readonly string[] },
): onRequestHookHandler | undefined {
  // Callback hooks: the check is synchronous, so no promise per request.
  if (kind === 'bearer') {
    const tokens = new SecretSet(secrets.bearerTokens)
    return (request, _reply, done) => {
      if (tokens.has(bearerToken(request.headers.authorization))) return done()
      done(new RoomgateError('unauthorized', 'Missing or invalid bearer token'))
    }
  }
  if (kind === 'apiKey') {
    const keys = new SecretSet(secrets.apiKeys)
    return (request, _reply, done) => {
      const key = request.headers['x-api-key']
      if (keys.has(typeof key === 'string' ? key : undefined)) return done()
      done(new RoomgateError('unauthorized', 'Invalid or missing API key'))
    }
  }
  return undefined
}
