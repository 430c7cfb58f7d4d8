import { expect, it } from 'vitest'
import { RecentKeys } from '../../src/realtime/recent-keys.js'

it('remembers keys for a while, within a bound', () => {
  let now = 0
  const keys = new RecentKeys(3, 1_000, () => now)
  expect(keys.add('a')).toBe(true)
  expect(keys.add('a')).toBe(false)
  now = 1_001
  expect(keys.add('a')).toBe(true)
  for (const k of ['b', 'c', 'd', 'e']) keys.add(k)
  expect(keys.size).toBeLessThanOrEqual(3)
})
