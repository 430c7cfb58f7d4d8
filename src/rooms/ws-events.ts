/**
 * Presence over /ws, answered by roomgate itself:
 * `room.join {room, user_id?, pool?}` → `{room, node, pool}` (places the room
 * if needed; the user defaults to the device), `room.leave {room, pool?}` →
 * `{room, pool, left}`. Disconnecting leaves every room.
 */
import Type from 'typebox'
import { RoomgateError } from '../errors.js'
import { roomAllowed } from '../realtime/device-auth.js'
import { PrintableId, type LocalEvents } from '../realtime/local-events.js'
import { requireRoomId } from './ids.js'
import type { Presence } from './presence.js'
import type { SharedPoolSpec } from './types.js'

type Pools = (name: unknown) => SharedPoolSpec

/** What `roomId` takes (rooms/ids.ts), as a schema: the OpenAPI document shows the rule. */
const Room = Type.Union(
  [
    Type.String({ pattern: '^(?!\\.+$)[A-Za-z0-9_.:@-]{1,128}$' }),
    Type.Number({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }),
  ],
  { description: '1 to 128 letters, digits or -_.:@, not dots only (or a number, taken as its decimal string)' },
)
const Pool = Type.Optional(Type.String({ description: 'A shared pool (default: rooms.serverPool)' }))

export function registerRoomEvents(local: LocalEvents, presence: Presence, poolOf: Pools): void {
  local.register({
    name: 'room.join',
    summary: 'Join a room (placing it on a node if needed): answers {room, node, pool}',
    schema: Type.Object({
      room: Room,
      user_id: Type.Optional(Type.String({ ...PrintableId, description: 'Default: the device id' })),
      pool: Pool,
    }),
    handler: async (client, data) => {
      const room = requireRoomId(data.room, 'data.room')
      if (!roomAllowed(client.claims, room)) throw new RoomgateError('room_not_in_token', { room })
      const pool = poolOf(data.pool)
      const user = data.user_id ?? client.deviceId!
      const { node } = await presence.join(client, pool, room, user)
      return { room, node, pool: pool.name }
    },
  })

  local.register({
    name: 'room.leave',
    summary: 'Leave a room: answers {room, pool, left}',
    schema: Type.Object({ room: Room, pool: Pool }),
    handler: async (client, data) => {
      const room = requireRoomId(data.room, 'data.room')
      const pool = poolOf(data.pool)
      return { room, pool: pool.name, left: await presence.leave(client, pool.name, room) }
    },
  })
}
