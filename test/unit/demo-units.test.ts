import { describe, expect, it } from 'vitest'
import { demoUnits } from '../../src/demo/services.js'

describe('the demo status source', () => {
  it('changes exactly one unit every tick (10 s), each in turn', () => {
    for (let tick = 1_000; tick < 1_024; tick++) {
      const before = demoUnits(tick - 1)
      const after = demoUnits(tick)
      const changed = after.filter((u, i) => u.status !== before[i]!.status).map((u) => u.ref)
      expect(changed).toEqual([`A-10${(tick % 6) + 1}`])
    }
  })
})
