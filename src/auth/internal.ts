import type { onRequestAsyncHookHandler } from 'fastify'
import { RoomgateError } from '../errors.js'
import { safeEqual } from './tokens.js'

/**
 * Guards the internal API with `X-Internal-Token`, compared in constant time.
 * With no token configured, every call is refused: an internal API must never
 * be open by default.
 */
export function internalTokenGuard(token: string): onRequestAsyncHookHandler {
  return async (request) => {
    if (token === '') {
      throw new RoomgateError(
        'forbidden',
        'The internal API is disabled: set INTERNAL_AUTH_TOKEN (auth.internalToken) to enable it',
      )
    }
    const presented = request.headers['x-internal-token']
    if (typeof presented !== 'string' || !safeEqual(presented, token)) {
      throw new RoomgateError('unauthorized', 'Missing or invalid X-Internal-Token')
    }
  }
}
