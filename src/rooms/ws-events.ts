/**
 * Presence over /ws, answered by roomgate itself:
 * `room.join {room, user_id?, pool?}` → `{room, node, pool}` (places the room
 * if needed; the user defaults to the device), `room.leave {room, pool?}` →
 * `{room, pool, left}`. Disconnecting leaves every room.
 */
import { RoomgateError } from '../errors.js'
import type { LocalEvents } from '../realtime/local-events.js'
import { requireRoomId, userId } from './ids.js'
import type { Presence } from './presence.js'
import type { SharedPoolSpec } from './types.js'

type Pools = (name: unknown) => SharedPoolSpec

const dataOf = (data: unknown): Record<string, unknown> =>
  typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : {}

export function registerRoomEvents(local: LocalEvents, presence: Presence, poolOf: Pools): void {
  local.register('room.join', async (client, message) => {
    const data = dataOf(message.data)
    const room = requireRoomId(data.room, 'data.room')
    const pool = poolOf(data.pool)
    const user = data.user_id === undefined ? client.deviceId : userId(data.user_id)
    if (user === undefined) {
      throw new RoomgateError('bad_request', "'data.user_id' must be 1 to 256 characters without control characters")
    }
    const { node } = await presence.join(client, pool, room, user)
    return { room, node, pool: pool.name }
  })

  local.register('room.leave', async (client, message) => {
    const data = dataOf(message.data)
    const room = requireRoomId(data.room, 'data.room')
    const pool = poolOf(data.pool)
    return { room, pool: pool.name, left: await presence.leave(client, pool.name, room) }
  })
}
