import type { onRequestHookHandler } from 'fastify'
import { RoomgateError } from '../errors.js'
import type { FailureBudget } from './failures.js'
import { guard } from './credentials.js'
import type { SecretSet } from './tokens.js'

/**
 * Guards the internal API with `X-Internal-Token`, compared by digest. With
 * no token configured, every call is refused: an internal API must never be
 * open by default. Both are decided per call: a reload may set or change the token.
 */
export function internalTokenGuard(token: SecretSet, budget: FailureBudget): onRequestHookHandler {
  const check = guard(
    budget,
    (headers) => {
      const presented = headers['x-internal-token']
      return typeof presented === 'string' && token.has(presented)
    },
    () => new RoomgateError('internal_token_invalid'),
  )
  return function internalToken(request, reply, done) {
    if (token.size === 0) return done(new RoomgateError('internal_disabled'))
    check.call(this, request, reply, done)
  }
}
