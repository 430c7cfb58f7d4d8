import type { onRequestAsyncHookHandler } from 'fastify'
import { RoomgateError } from '../errors.js'
import { bearerToken, SecretSet } from './tokens.js'

export type AuthKind = 'none' | 'bearer' | 'apiKey'

/** A hook that requires `Authorization: Bearer <token>` or `X-API-Key: <key>`; undefined for `none`. */
export function credentialGuard(
  kind: AuthKind,
  secrets: { bearerTokens: readonly string[]; apiKeys: readonly string[] },
): onRequestAsyncHookHandler | undefined {
  if (kind === 'bearer') {
    const tokens = new SecretSet(secrets.bearerTokens)
    return async (request) => {
      if (!tokens.has(bearerToken(request.headers.authorization))) {
        throw new RoomgateError('unauthorized', 'Missing or invalid bearer token')
      }
    }
  }
  if (kind === 'apiKey') {
    const keys = new SecretSet(secrets.apiKeys)
    return async (request) => {
      const key = request.headers['x-api-key']
      if (!keys.has(typeof key === 'string' ? key : undefined)) {
        throw new RoomgateError('unauthorized', 'Invalid or missing API key')
      }
    }
  }
  return undefined
}
