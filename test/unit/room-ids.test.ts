import { describe, expect, it } from 'vitest'
import { roomId, userId } from '../../src/rooms/ids.js'

describe('room ids', () => {
  const cases: Array<[unknown, string | undefined]> = [
    [2171, '2171'],
    ['math101', 'math101'],
    ['a-b_c.d:e@f', 'a-b_c.d:e@f'],
    [21.5, '21.5'],
    [-3, '-3'],
    ['x'.repeat(128), 'x'.repeat(128)],
    ['x'.repeat(129), undefined],
    ['', undefined],
    ['a|b', undefined],
    ['a b', undefined],
    ['é', undefined],
    ['.', undefined],
    ['..', undefined],
    ['...', undefined],
    ['.a', '.a'],
    [1e21, undefined],
    [2 ** 53 + 2, undefined],
    [Number.NaN, undefined],
    [null, undefined],
    [{}, undefined],
    [true, undefined],
  ]
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input) ?? String(input)} → ${expected ?? 'refused'}`, () => expect(roomId(input)).toBe(expected))
  }

  it('takes user ids without control characters', () => {
    expect(userId('alice')).toBe('alice')
    expect(userId('a\nb')).toBeUndefined()
    expect(userId('')).toBeUndefined()
    expect(userId(5)).toBeUndefined()
  })
})
