/**
 * Room and user ids. A room id is 1–128 letters, digits and `-_.:@`, not made
 * of dots only (`.` and `..` would become path segments in node URLs); a JSON
 * number is taken as its decimal string (seed 003 sends `{"room": 2171}`), if
 * that string is exact (not 1e+21, not an integer past 2^53). Nothing else: a
 * `|` would corrupt seed 000's value format, and the checks run before
 * anything is written.
 */
import { RoomgateError } from '../errors.js'

const ROOM_ID = /^[A-Za-z0-9_.:@-]{1,128}$/
const DOTS = /^\.+$/

export function roomId(value: unknown): string | undefined {
  let text = value
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value))) return undefined
    text = String(value)
  }
  return typeof text === 'string' && ROOM_ID.test(text) && !DOTS.test(text) ? text : undefined
}

export function requireRoomId(value: unknown, where = 'room'): string {
  const id = roomId(value)
  if (id === undefined) {
    throw new RoomgateError('room_id_invalid', { field: where })
  }
  return id
}

/** A user id: 1–256 characters, no control characters (they separate fields in presence entries). */
export function userId(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) return undefined
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return undefined
  }
  return value
}
