/**
 * Client statuses turned into standard ones, as seed 004's `_map_statuses`
 * does, with its crashes turned into skipped units:
 *
 * - The mapping lists, per standard status, the client values that mean it;
 *   values compare without case. A value listed twice takes the last listing.
 * - The units are the answer itself when it is a list, else its `units` list,
 *   else its `data` list, else none.
 * - A unit's id is the first truthy of `ref`, `id`, `unit_id` (so `0` and ""
 *   fall through, as in Python). A string is trimmed; a finite number becomes
 *   its decimal string. An id that is anything else, or not 1–256 characters
 *   long, skips the unit. So does a unit that is not an object.
 * - A unit's client status is `String(status)` lowercased; a missing, null or
 *   non-scalar status is "". A client status the mapping does not list is
 *   "available".
 * - A later unit with the same id replaces an earlier one.
 * - At most `limit` units are read; the rest count as skipped.
 *
 * Ids come from the client: the result has no prototype, so `__proto__` or
 * `constructor` is just another unit.
 */

export const DEFAULT_UNIT_LIMIT = 100_000
export const MAX_UNIT_ID_LENGTH = 256
/** What a unit whose client status is not in the mapping shows. */
export const DEFAULT_STANDARD_STATUS = 'available'

export interface MappedStatuses {
  /** Unit id -> standard status; a null-prototype object. */
  statuses: Record<string, string>
  /** Units left out: not objects, without a usable id, or past the limit. */
  skipped: number
}

type Unit = Record<string, unknown>

/** The unit list of an answer, or undefined when it holds none. */
export function unitList(data: unknown): unknown[] | undefined {
  if (Array.isArray(data)) return data
  if (typeof data !== 'object' || data === null) return undefined
  const { units, data: inner } = data as Unit
  if (Array.isArray(units)) return units
  if (Array.isArray(inner)) return inner
  return undefined
}

function unitId(unit: Unit): string | undefined {
  const raw = unit.ref || unit.id || unit.unit_id
  let id: string
  if (typeof raw === 'string') id = raw.trim()
  else if (typeof raw === 'number' && Number.isFinite(raw)) id = String(raw)
  else return undefined
  return id.length >= 1 && id.length <= MAX_UNIT_ID_LENGTH ? id : undefined
}

function clientStatus(value: unknown): string {
  if (typeof value === 'string') return value.toLowerCase()
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value).toLowerCase()
  return ''
}

export function mapStatuses(
  data: unknown,
  mapping: Readonly<Record<string, readonly string[]>>,
  limit = DEFAULT_UNIT_LIMIT,
): MappedStatuses {
  const reverse = new Map<string, string>()
  for (const [standard, values] of Object.entries(mapping)) {
    for (const value of values) reverse.set(value.toLowerCase(), standard)
  }

  const statuses = Object.create(null) as Record<string, string>
  const units = unitList(data) ?? []
  const taken = Math.min(units.length, Math.max(0, limit))
  let skipped = units.length - taken
  for (let i = 0; i < taken; i++) {
    const unit = units[i]
    if (typeof unit !== 'object' || unit === null || Array.isArray(unit)) {
      skipped++
      continue
    }
    const id = unitId(unit as Unit)
    if (id === undefined) {
      skipped++
      continue
    }
    statuses[id] = reverse.get(clientStatus((unit as Unit).status)) ?? DEFAULT_STANDARD_STATUS
  }
  return { statuses, skipped }
}
