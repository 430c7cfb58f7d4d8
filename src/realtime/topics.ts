/**
 * The names of the hub's topics. The three pushed streams (`device:<id>`,
 * `room:<name>`, `all`) are also the wire names of their histories; the
 * others are local subscriptions (job watches, the metrics feed, the dashboard).
 */
export const topics = {
  device: (id: string) => `device:${id}`,
  room: (name: string) => `room:${name}`,
  all: 'all',
  /** One job's events; `job:*` is every job's. */
  job: (id: string) => `job:${id}`,
  metrics: 'metrics',
  dashboard: 'dashboard',
}

export const ROOM_PREFIX = 'room:'
export const DEVICE_PREFIX = 'device:'

/** Whether `name` is a stream with history (the others have none). */
export function isStream(name: string): boolean {
  return name === topics.all || name.startsWith(DEVICE_PREFIX) || name.startsWith(ROOM_PREFIX)
}

export interface Targets {
  device_ids?: readonly string[]
  /** Devices present in these rooms (any pool). */
  rooms?: readonly string[]
  /** Every identified device. Connections that never identified (dashboards) are not included. */
  all?: boolean
}

/** The distinct streams a broadcast names, in a fixed order (devices, rooms, all). */
export function streamsOf(targets: Targets): string[] {
  const out = new Set<string>()
  for (const id of targets.device_ids ?? []) out.add(topics.device(id))
  for (const room of targets.rooms ?? []) out.add(topics.room(room))
  if (targets.all) out.add(topics.all)
  return [...out]
}
