import { describe, expect, it } from 'vitest'
import { Slots } from '../../src/upstream/slots.js'

describe('Slots', () => {
  it('grants up to its size, queues the rest in order, refuses past the wait list', () => {
    const slots = new Slots(2, 2)
    const events: string[] = []
    const releases: Array<() => void> = []
    const ask = (name: string) =>
      slots.request({
        granted: (release) => {
          events.push(`granted ${name}`)
          releases.push(release)
        },
        refused: (reason) => events.push(`refused ${name} ${reason}`),
      })
    for (const n of ['a', 'b', 'c', 'd', 'e']) ask(n)
    expect(events).toEqual(['granted a', 'granted b', 'refused e busy'])
    releases[0]!()
    releases[0]!() // releasing twice frees one slot only
    expect(events.at(-1)).toBe('granted c')
    expect([slots.inUse, slots.queued]).toEqual([2, 1])
  })

  it('drops a cancelled waiter and times out a waiter', async () => {
    const slots = new Slots(1, 5)
    let release: () => void = () => undefined
    slots.request({ granted: (r) => (release = r), refused: () => undefined })
    const cancel = slots.request({ granted: () => expect.fail('cancelled'), refused: () => expect.fail('cancelled') })
    let timedOut = false
    slots.request({ granted: () => expect.fail('should time out'), refused: (r) => (timedOut = r === 'timeout') }, 20)
    cancel()
    expect(slots.queued).toBe(1)
    await new Promise((r) => setTimeout(r, 40))
    expect(timedOut).toBe(true)
    expect(slots.queued).toBe(0)
    release()
    expect(slots.inUse).toBe(0)
  })
})
