/**
 * `identify` and `refresh` (seed 001, issue 13). `identify` takes a claimed
 * `device_id` (unless `auth.devices.required`) or a device `token`;
 * `refresh` replaces a connection's token before it expires, for the same
 * device only.
 */
import Type from 'typebox'
import type { VerifiedDevice } from '../auth/device-identity.js'
import { RoomgateError } from '../errors.js'
import type { Client } from './client.js'
import type { DeviceAuth } from './device-auth.js'
import type { Hub } from './hub.js'
import { DeviceId, type LocalEvents } from './local-events.js'

/** Longer than any sane JWT; a bound on what is verified. */
const Token = Type.String({ minLength: 1, maxLength: 16_384, description: 'A device token (JWT), see auth.devices' })

interface Identity {
  device_id: string
  /** When the token expires (ISO 8601), for a token. */
  expires_at?: string
}

const answer = (deviceId: string, device?: VerifiedDevice): Identity =>
  device ? { device_id: deviceId, expires_at: new Date(device.expiresAt).toISOString() } : { device_id: deviceId }

export function registerIdentityEvents(local: LocalEvents, hub: Hub, auth: DeviceAuth): void {
  local.register({
    name: 'identify',
    summary: 'Identify the connection: as a device (device_id, unless tokens are required), or with a device token',
    schema: Type.Object({ device_id: Type.Optional(DeviceId), token: Type.Optional(Token) }),
    requiresIdentity: false,
    handler: async (client, data) => {
      if (data.token === undefined) {
        if (auth.required) throw new RoomgateError('token_required')
        if (data.device_id === undefined) throw new RoomgateError('data_missing', { field: 'data.device_id' })
        take(client, hub, data.device_id)
        return answer(data.device_id)
      }
      const device = await auth.verify(client.ip, data.token)
      if (data.device_id !== undefined && data.device_id !== device.deviceId) throw new RoomgateError('device_id_not_token')
      take(client, hub, device.deviceId)
      if (client.open) auth.hold(client, device)
      return answer(device.deviceId, device)
    },
  })

  local.register({
    name: 'ping',
    summary: 'Answers {}: a client heartbeat (browsers cannot see WebSocket pings)',
    schema: Type.Object({}),
    requiresIdentity: false,
    handler: () => ({}),
  })

  local.register({
    name: 'refresh',
    summary: "Replace the connection's device token before it expires (same device only)",
    schema: Type.Object({ token: Token }),
    handler: async (client, data) => {
      const device = await auth.verify(client.ip, data.token)
      if (device.deviceId !== client.deviceId) throw new RoomgateError('token_other_device', { device: client.deviceId! })
      if (client.open) auth.hold(client, device)
      return answer(device.deviceId, device)
    },
  })
}

/** Gives the connection its identity; one connection keeps one device. */
function take(client: Client, hub: Hub, deviceId: string): void {
  if (client.deviceId !== undefined && client.deviceId !== deviceId) {
    throw new RoomgateError('already_identified', { device: client.deviceId })
  }
  if (client.deviceId === undefined && client.open) hub.identify(client, deviceId)
}
