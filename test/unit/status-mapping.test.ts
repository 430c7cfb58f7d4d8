/**
 * Seed 004's `_map_statuses`: the answer shapes it accepts, the ids it reads,
 * the case-insensitive mapping with "available" for anything unlisted, and
 * the cases where the seed would crash (skipped units instead).
 */
import { describe, expect, it } from 'vitest'
import { mapStatuses, unitList } from '../../src/status/mapping.js'

const MAPPING = { available: ['open', 'free'], reserved: ['hold'], sold: ['sold', 'taken'] }

describe('mapStatuses: answer shapes', () => {
  const units = [
    { ref: 'A1', status: 'open' },
    { ref: 'A2', status: 'hold' },
  ]
  const expected = { A1: 'available', A2: 'reserved' }
  it.each([
    { desc: 'a bare list', data: units, statuses: expected },
    { desc: '{units: [...]}', data: { units }, statuses: expected },
    { desc: '{data: [...]}', data: { data: units }, statuses: expected },
    { desc: 'units wins over data', data: { units, data: [{ ref: 'Z', status: 'sold' }] }, statuses: expected },
    { desc: 'units that is not a list falls back to data', data: { units: null, data: units }, statuses: expected },
    { desc: 'an object without units or data', data: { items: units }, statuses: {} },
    { desc: 'a string', data: 'units', statuses: {} },
    { desc: 'null', data: null, statuses: {} },
    { desc: 'a number', data: 42, statuses: {} },
  ])('$desc', ({ data, statuses }) => {
    expect(mapStatuses(data, MAPPING).statuses).toEqual(statuses)
  })

  it('unitList says whether an answer holds a unit list at all', () => {
    expect(unitList([])).toEqual([])
    expect(unitList({ units: [1] })).toEqual([1])
    expect(unitList({ data: [2] })).toEqual([2])
    expect(unitList({})).toBeUndefined()
    expect(unitList('x')).toBeUndefined()
  })
})

describe('mapStatuses: the seed cases', () => {
  it('maps client values to standard statuses through the reverse map', () => {
    const data = [
      { ref: 'U1', status: 'open' },
      { ref: 'U2', status: 'free' },
      { ref: 'U3', status: 'hold' },
      { ref: 'U4', status: 'sold' },
      { ref: 'U5', status: 'taken' },
    ]
    expect(mapStatuses(data, MAPPING)).toEqual({
      statuses: { U1: 'available', U2: 'available', U3: 'reserved', U4: 'sold', U5: 'sold' },
      skipped: 0,
    })
  })

  it('compares client values without case, on both sides', () => {
    const mapping = { sold: ['SOLD', 'Taken'] }
    const data = [
      { ref: 'a', status: 'sold' },
      { ref: 'b', status: 'TAKEN' },
      { ref: 'c', status: 'Sold' },
    ]
    expect(mapStatuses(data, mapping).statuses).toEqual({ a: 'sold', b: 'sold', c: 'sold' })
  })

  it.each([
    { desc: 'an unlisted value', status: 'under_offer' },
    { desc: 'no status', status: undefined },
    { desc: 'a null status', status: null },
    { desc: 'an object status', status: { code: 'sold' } },
    { desc: 'a list status', status: ['sold'] },
    { desc: 'a value that differs by whitespace', status: ' sold' },
  ])('shows "available" for $desc', ({ status }) => {
    expect(mapStatuses([{ ref: 'x', status }], MAPPING).statuses).toEqual({ x: 'available' })
  })

  it('maps scalar statuses by their string form', () => {
    const mapping = { sold: ['1', 'true'], reserved: ['2.5'] }
    const data = [
      { ref: 'n', status: 1 },
      { ref: 'b', status: true },
      { ref: 'f', status: 2.5 },
    ]
    expect(mapStatuses(data, mapping).statuses).toEqual({ n: 'sold', b: 'sold', f: 'reserved' })
  })

  it('with an empty mapping shows everything as available (the seed default)', () => {
    expect(mapStatuses([{ ref: 'a', status: 'sold' }], {}).statuses).toEqual({ a: 'available' })
  })

  it('takes the last listing when a value is listed under two statuses (dict order)', () => {
    expect(mapStatuses([{ ref: 'a', status: 'hold' }], { reserved: ['hold'], sold: ['HOLD'] }).statuses).toEqual({ a: 'sold' })
  })

  it('lets a later unit with the same id replace an earlier one', () => {
    const data = [
      { ref: 'a', status: 'hold' },
      { ref: 'a', status: 'sold' },
    ]
    expect(mapStatuses(data, MAPPING)).toEqual({ statuses: { a: 'sold' }, skipped: 0 })
  })
})

describe('mapStatuses: unit ids', () => {
  it.each([
    { desc: 'ref', unit: { ref: 'R', id: 'I', unit_id: 'U' }, id: 'R' },
    { desc: 'id when ref is missing', unit: { id: 'I', unit_id: 'U' }, id: 'I' },
    { desc: 'unit_id when ref and id are missing', unit: { unit_id: 'U' }, id: 'U' },
    { desc: 'id when ref is "" (falsy, as in Python)', unit: { ref: '', id: 'I' }, id: 'I' },
    { desc: 'unit_id when id is 0 (falsy, as in Python)', unit: { id: 0, unit_id: 'U' }, id: 'U' },
    { desc: 'a number as its decimal string', unit: { id: 101 }, id: '101' },
    { desc: 'a fractional number', unit: { ref: 1.5 }, id: '1.5' },
    { desc: 'a negative number', unit: { ref: -3 }, id: '-3' },
    { desc: 'a trimmed string', unit: { ref: '  A-1 \t' }, id: 'A-1' },
    { desc: 'a 256-character id', unit: { ref: 'x'.repeat(256) }, id: 'x'.repeat(256) },
  ])('uses $desc', ({ unit, id }) => {
    expect(mapStatuses([{ ...unit, status: 'sold' }], MAPPING)).toEqual({ statuses: { [id]: 'sold' }, skipped: 0 })
  })

  it.each([
    { desc: 'no id at all', unit: { status: 'sold' } },
    { desc: 'only falsy ids', unit: { ref: '', id: 0, unit_id: null } },
    { desc: 'a blank id', unit: { ref: '   ' } },
    { desc: 'a 257-character id', unit: { ref: 'x'.repeat(257) } },
    { desc: 'an object id', unit: { ref: { a: 1 } } },
    { desc: 'a list id', unit: { ref: ['a'] } },
    { desc: 'a boolean id', unit: { ref: true } },
    { desc: 'an infinite id', unit: { ref: Infinity } },
  ])('skips a unit with $desc', ({ unit }) => {
    expect(mapStatuses([unit, { ref: 'ok' }], MAPPING)).toEqual({ statuses: { ok: 'available' }, skipped: 1 })
  })

  it.each([
    { desc: 'a string', unit: 'A1' },
    { desc: 'a number', unit: 7 },
    { desc: 'null', unit: null },
    { desc: 'a list', unit: ['A1', 'sold'] },
  ])('skips a unit that is $desc', ({ unit }) => {
    expect(mapStatuses([unit, { ref: 'ok', status: 'sold' }], MAPPING)).toEqual({ statuses: { ok: 'sold' }, skipped: 1 })
  })

  it('keeps __proto__, constructor and toString as ordinary units (no prototype pollution)', () => {
    const data = JSON.parse('[{"ref":"__proto__","status":"sold"},{"ref":"constructor","status":"hold"},{"ref":"toString"}]') as unknown
    const { statuses } = mapStatuses(data, MAPPING)
    expect(Object.getPrototypeOf(statuses)).toBeNull()
    expect(Object.keys(statuses).sort()).toEqual(['__proto__', 'constructor', 'toString'])
    expect(statuses['__proto__']).toBe('sold')
    expect(statuses['constructor']).toBe('reserved')
    expect(statuses['toString']).toBe('available')
    expect(JSON.parse(JSON.stringify(statuses))).toEqual(JSON.parse('{"__proto__":"sold","constructor":"reserved","toString":"available"}'))
    expect(({} as Record<string, unknown>).sold).toBeUndefined()
  })

  it("does not read an id or status through a unit's own __proto__ key", () => {
    const data = JSON.parse('[{"__proto__":{"ref":"evil","status":"sold"}}]') as unknown
    expect(mapStatuses(data, MAPPING)).toEqual({ statuses: {}, skipped: 1 })
  })

  it('does not treat an unknown client value named like an Object method as mapped', () => {
    expect(mapStatuses([{ ref: 'a', status: 'constructor' }], MAPPING).statuses).toEqual({ a: 'available' })
  })
})

describe('mapStatuses: limits', () => {
  const units = Array.from({ length: 10 }, (_, i) => ({ ref: `u${i}`, status: 'sold' }))

  it('reads at most `limit` units and counts the rest as skipped', () => {
    const { statuses, skipped } = mapStatuses(units, MAPPING, 4)
    expect(Object.keys(statuses)).toEqual(['u0', 'u1', 'u2', 'u3'])
    expect(skipped).toBe(6)
  })

  it('adds units past the limit to the ones skipped for other reasons', () => {
    const data = [null, { ref: 'a' }, { ref: '' }, { ref: 'b' }, { ref: 'c' }]
    expect(mapStatuses(data, MAPPING, 3)).toEqual({ statuses: { a: 'available' }, skipped: 4 })
  })

  it('treats a limit of 0 (or less) as "no units"', () => {
    expect(mapStatuses(units, MAPPING, 0)).toEqual({ statuses: {}, skipped: 10 })
    expect(mapStatuses(units, MAPPING, -1)).toEqual({ statuses: {}, skipped: 10 })
  })

  it('reads 100 000 units by default and no more', () => {
    const many = Array.from({ length: 100_002 }, (_, i) => ({ id: i + 1, status: 'open' }))
    const { statuses, skipped } = mapStatuses({ units: many }, MAPPING)
    expect(Object.keys(statuses)).toHaveLength(100_000)
    expect(statuses['100000']).toBe('available')
    expect(statuses['100001']).toBeUndefined()
    expect(skipped).toBe(2)
  })
})
