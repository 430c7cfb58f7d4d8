import { describe, expect, it } from 'vitest'
import { Turns } from '../../src/realtime/turns.js'

describe('Turns', () => {
  it('lets waiters go first in, first out, one per turn of the event loop', async () => {
    const turns = new Turns()
    let ticks = 0
    let done = false
    const tick = (): void => {
      ticks++
      if (!done) setImmediate(tick)
    }
    setImmediate(tick)
    const order: number[] = []
    const at: number[] = []
    await Promise.all(
      [1, 2, 3, 4].map((n) =>
        turns.next().then(() => {
          order.push(n)
          at.push(ticks)
        }),
      ),
    )
    done = true
    expect(order).toEqual([1, 2, 3, 4])
    // The loop turned between every two waiters (all at once would show no tick between them).
    for (let i = 1; i < at.length; i++) expect(at[i]!).toBeGreaterThan(at[i - 1]!)
  })

  it('serves waiters that come after the queue ran dry', async () => {
    const turns = new Turns()
    await turns.next()
    await turns.next()
    const both = await Promise.all([turns.next().then(() => 'a'), turns.next().then(() => 'b')])
    expect(both).toEqual(['a', 'b'])
  })
})
