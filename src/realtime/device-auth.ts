/**
 * Device tokens on `/ws` (issue 13). A token comes with the upgrade (`?token=`
 * or `Authorization: Bearer`), or in `identify` / `refresh`; a verified one
 * gives the connection its device id and claims, and closes the connection
 * with 1008 when it expires unless a `refresh` for the same device came first.
 * A wrong token spends from the client IP's budget of wrong credentials.
 */
import type { FastifyRequest } from 'fastify'
import { verifyWith } from '../auth/credentials.js'
import type { DeviceVerifier, VerifiedDevice } from '../auth/device-identity.js'
import type { FailureBudget } from '../auth/failures.js'
import { bearerToken } from '../auth/tokens.js'
import type { Client } from './client.js'
import { CLOSE_POLICY_VIOLATION } from './credentials.js'

/** setTimeout's longest delay (about 24.8 days): a later expiry is checked again then. */
const MAX_TIMER_MS = 2 ** 31 - 1

export class DeviceAuth {
  constructor(
    private readonly devices: DeviceVerifier,
    private readonly budget: FailureBudget,
  ) {}

  get required(): boolean {
    return this.devices.required
  }

  /** The token an upgrade carries, if any: `?token=`, else `Authorization: Bearer`. */
  static tokenOf(request: FastifyRequest): string | undefined {
    const query = (request.query as { token?: unknown }).token
    if (typeof query === 'string' && query.length > 0) return query
    const header = request.headers.authorization
    return typeof header === 'string' ? bearerToken(header) : undefined
  }

  /** The verified device, or `unauthorized` (spending from the IP's budget). */
  verify(ip: string, token: string): Promise<VerifiedDevice> {
    return verifyWith(this.budget, ip, () => this.devices.verify(token))
  }

  /** Takes the token's claims and expiry for the connection (identify, refresh). */
  hold(client: Client, device: VerifiedDevice): void {
    client.claims = device.claims
    clearTimeout(client.tokenTimer)
    const expire = () => {
      const left = device.expiresAt + this.devices.leewayMs - Date.now()
      if (left > 0) {
        client.tokenTimer = setTimeout(expire, Math.min(left, MAX_TIMER_MS))
        client.tokenTimer.unref()
        return
      }
      client.tokenTimer = undefined
      client.socket.close(CLOSE_POLICY_VIOLATION, 'token expired')
    }
    expire()
  }
}

/** Whether a `rooms` claim lets the token join `room`: exact names, or prefixes ending in `*`. */
export function roomAllowed(claims: Readonly<Record<string, unknown>> | undefined, room: string): boolean {
  const rooms = claims?.rooms
  if (!Array.isArray(rooms)) return true
  return rooms.some((r) => typeof r === 'string' && (r.endsWith('*') ? room.startsWith(r.slice(0, -1)) : r === room))
}
