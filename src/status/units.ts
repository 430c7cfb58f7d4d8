/**
 * Statuses as a map of unit id → standard status, and the differences between
 * two versions of it. Maps are null-prototype objects (a unit may be called
 * `__proto__`) in unit-id order, so that every instance, whichever way it
 * built a version (read whole, or caught up through its changes), serves it
 * byte for byte the same.
 */
export type Statuses = Record<string, string>

/** What turns one version into the next: units set (new or changed), and units gone. */
export interface StatusChanges {
  set: Statuses
  gone: string[]
}

function empty(): Statuses {
  return Object.create(null) as Statuses
}

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** `entries` as a map in unit-id order. */
export function sortedStatuses(entries: Iterable<[string, string]>): Statuses {
  const list = [...entries].sort((a, b) => byId(a[0], b[0]))
  const out = empty()
  for (const [id, status] of list) out[id] = status
  return out
}

export function changesBetween(before: Statuses, after: Statuses): StatusChanges {
  const set = empty()
  for (const id of Object.keys(after)) if (before[id] !== after[id]) set[id] = after[id]!
  const gone = Object.keys(before).filter((id) => !Object.hasOwn(after, id))
  return { set, gone }
}

export function changeCount(c: StatusChanges): number {
  return Object.keys(c.set).length + c.gone.length
}

/**
 * `base` with `changes` applied in order, as a new map (`base` may be held by
 * a caller). Changed statuses keep their place; when units come or go the map
 * is rebuilt in unit-id order.
 */
export function applyChanges(base: Statuses, changes: readonly StatusChanges[]): Statuses {
  const reshaped = changes.some((c) => c.gone.length > 0 || Object.keys(c.set).some((id) => !Object.hasOwn(base, id)))
  if (!reshaped) {
    const out = Object.assign(empty(), base)
    for (const c of changes) Object.assign(out, c.set)
    return out
  }
  const all = new Map(Object.entries(base))
  for (const c of changes) {
    for (const id of c.gone) all.delete(id)
    for (const [id, status] of Object.entries(c.set)) all.set(id, status)
  }
  return sortedStatuses(all)
}
