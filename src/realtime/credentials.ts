/**
 * Credential checks made over /ws (`dashboard.subscribe`, `job.subscribe`):
 * the same failure budget as HTTP, per client IP across connections, and a
 * connection whose address gets locked out is closed after its error reply,
 * so one socket cannot be kept to guess at leisure.
 */
import { verify } from '../auth/credentials.js'
import type { FailureBudget } from '../auth/failures.js'
import { RoomgateError } from '../errors.js'
import type { Client } from './client.js'

/** WebSocket close code "policy violation". */
export const CLOSE_POLICY_VIOLATION = 1008

export async function verifyClient(budget: FailureBudget, client: Client, check: () => boolean, refusal: RoomgateError): Promise<void> {
  try {
    await verify(budget, client.ip, check, refusal)
  } catch (err) {
    if (err instanceof RoomgateError && err.code === 'rate_limited') {
      // After the error reply has been queued.
      setImmediate(() => client.socket.close(CLOSE_POLICY_VIOLATION, 'too many wrong credentials'))
    }
    throw err
  }
}
