import type { onRequestHookHandler } from 'fastify'
import { RoomgateError } from '../errors.js'
import type { FailureBudget } from './failures.js'
import { guard } from './credentials.js'
import { safeEqual } from './tokens.js'

/**
 * Guards the internal API with `X-Internal-Token`, compared in constant time.
 * With no token configured, every call is refused: an internal API must never
 * be open by default.
 */
export function internalTokenGuard(token: string, budget: FailureBudget): onRequestHookHandler {
  if (token === '') {
    return (_request, _reply, done) =>
      done(new RoomgateError('internal_disabled'))
  }
  return guard(
    budget,
    (headers) => {
      const presented = headers['x-internal-token']
      return typeof presented === 'string' && safeEqual(presented, token)
    },
    () => new RoomgateError('internal_token_invalid'),
  )
}
