/**
 * Credential checks for HTTP routes and /ws events, every one of them spending
 * from the caller's failure budget (failures.ts) when the credential is wrong,
 * and refused unchecked while that budget is spent.
 */
import type { onRequestHookHandler } from 'fastify'
import { RoomgateError } from '../errors.js'
import type { DeviceVerifier, VerifiedDevice } from './device-identity.js'
import type { FailureBudget } from './failures.js'
import { bearerToken, type AuthSecrets } from './tokens.js'

export type AuthKind = 'none' | 'bearer' | 'apiKey'

type Done = (err?: Error) => void

/**
 * Runs `check` for a caller at `ip`: resolves when it passes; rejects with
 * `refusal` when it fails, or with 429 when the IP's budget is (or just got) spent.
 */
export async function verify(budget: FailureBudget, ip: string, check: () => boolean, refusal: RoomgateError): Promise<void> {
  const locked = budget.lockout(ip)
  if (locked) throw locked
  if (check()) return
  throw await budget.failed(ip, refusal)
}

/**
 * `verify` for a credential checked asynchronously (a device token): resolves
 * with what `check` gives; an `unauthorized` from it spends from the budget.
 */
export async function verifyWith<T>(budget: FailureBudget, ip: string, check: () => Promise<T>): Promise<T> {
  const locked = budget.lockout(ip)
  if (locked) throw locked
  try {
    return await check()
  } catch (err) {
    if (err instanceof RoomgateError && err.code === 'unauthorized') throw await budget.failed(ip, err)
    throw err
  }
}

/** The hook form of `verify`: a callback hook, with no promise for a right credential. */
export function guard(budget: FailureBudget, check: (headers: Record<string, string | string[] | undefined>) => boolean, refusal: () => RoomgateError): onRequestHookHandler {
  return (request, _reply, done: Done) => {
    const locked = budget.lockout(request.ip)
    if (locked) return done(locked)
    if (check(request.headers)) return done()
    const answer = budget.failed(request.ip, refusal())
    if (answer instanceof Promise) void answer.then(done)
    else done(answer)
  }
}

/** A hook that requires `Authorization: Bearer <token>` or `X-API-Key: <key>`; undefined for `none`. */
export function credentialGuard(
  kind: AuthKind,
  secrets: Pick<AuthSecrets, 'bearerTokens' | 'apiKeys'>,
  budget: FailureBudget,
): onRequestHookHandler | undefined {
  if (kind === 'bearer') {
    const tokens = secrets.bearerTokens
    return guard(
      budget,
      (headers) => tokens.has(bearerToken(single(headers.authorization))),
      () => new RoomgateError('bearer_invalid'),
    )
  }
  if (kind === 'apiKey') {
    const keys = secrets.apiKeys
    return guard(
      budget,
      (headers) => keys.has(single(headers['x-api-key'])),
      () => new RoomgateError('api_key_invalid'),
    )
  }
  return undefined
}

/**
 * A hook that requires `Authorization: Bearer <device token>`, verified by
 * `devices`, and leaves the device on `request.verifiedDevice`. A missing or
 * refused token spends from the budget like any wrong credential (verifyWith);
 * the verifier's own refusal (`token_invalid`, `token_expired`) is the answer.
 */
export function deviceGuard(devices: DeviceVerifier, budget: FailureBudget): onRequestHookHandler {
  return (request, _reply, done: Done) => {
    const token = bearerToken(single(request.headers.authorization))
    verifyWith(budget, request.ip, () => (token === undefined ? Promise.reject(new RoomgateError('token_missing')) : devices.verify(token))).then(
      (device) => {
        request.verifiedDevice = device
        done()
      },
      (err: Error) => done(err),
    )
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `deviceGuard` on routes that require a device token; null elsewhere. */
    verifiedDevice: VerifiedDevice | null
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined
}
