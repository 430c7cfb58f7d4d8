import { afterEach, describe, expect, it } from 'vitest'
import { Deadlines } from '../../src/events/deadlines.js'
import { waitFor } from '../helpers/ports.js'

const lists: Deadlines[] = []
afterEach(() => {
  for (const l of lists.splice(0)) l.close()
})
const deadlines = (ms: number) => {
  const l = new Deadlines(ms)
  lists.push(l)
  return l
}

describe('Deadlines', () => {
  it('expires calls in the order they were added, each once', async () => {
    const l = deadlines(20)
    const expired: number[] = []
    for (let i = 0; i < 5; i++) l.add(() => expired.push(i))
    expect(l.pending).toBe(5)
    await waitFor(() => expired.length === 5, 5_000, 'every deadline')
    expect(expired).toEqual([0, 1, 2, 3, 4])
    expect(l.pending).toBe(0)
  })

  it('never expires a cancelled call, wherever it is in the list, and cancel is idempotent', async () => {
    const l = deadlines(20)
    const expired: string[] = []
    const a = l.add(() => expired.push('a'))
    l.add(() => expired.push('b'))
    const c = l.add(() => expired.push('c'))
    l.add(() => expired.push('d'))
    a.cancel() // the head
    c.cancel() // the middle
    c.cancel()
    expect(l.pending).toBe(2)
    await waitFor(() => expired.length === 2, 5_000, 'the two left')
    expect(expired).toEqual(['b', 'd'])
  })

  it('keeps working after the list empties: a call added later gets its whole time', async () => {
    const l = deadlines(50)
    const first = l.add(() => undefined)
    first.cancel()
    const added = performance.now()
    let at = 0
    l.add(() => (at = performance.now()))
    await waitFor(() => at > 0, 5_000, 'the later deadline')
    // Never early (the timer armed for the cancelled head wakes, finds it not due, and sleeps on).
    expect(at - added).toBeGreaterThanOrEqual(45)
  })

  it('expires what is due when a call is added while it fires', async () => {
    const l = deadlines(10)
    const expired: string[] = []
    l.add(() => {
      expired.push('a')
      l.add(() => expired.push('b'))
    })
    await waitFor(() => expired.length === 2, 5_000, 'both deadlines')
    expect(expired).toEqual(['a', 'b'])
  })
})
