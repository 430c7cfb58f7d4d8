/** The behaviour every StreamStore promises (realtime/history/types.ts). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Engine } from '../../src/engine/types.js'
import { parseBusMessage, streamFrame, type HistorySettings } from '../../src/realtime/history/types.js'
import { waitFor } from '../helpers/ports.js'

const history: HistorySettings = { size: 3, ttlMs: 60_000, metaTtlMs: 120_000 }
const body = (n: number) => JSON.stringify({ type: 'event', event: 'e', data: { n } })

export function streamsContract(name: string, create: () => Promise<Engine>): void {
  describe(`StreamStore contract: ${name}`, () => {
    let engine: Engine
    const got: string[] = []
    const onMessage = (m: string) => got.push(m)
    const publish = (n: number, streams: string[], key?: string) =>
      engine.streams.publish({ header: `{"n":${n}}`, body: body(n), streams, idempotencyKey: key, history })

    beforeEach(async () => {
      engine = await create()
      got.length = 0
      await Promise.all(engine.streams.channels.map((c) => engine.bus.subscribe(c, onMessage)))
    })
    /** Every position the messages so far carried, by stream (one message, or one per group of streams on a cluster). */
    const positions = () => new Map(got.flatMap((m) => parseBusMessage(m).positions.map((p) => [p.stream!, p] as const)))
    afterEach(async () => {
      await engine.close()
    })

    it('gives each stream its next offset and publishes the positions with the event', async () => {
      const s = `device:${Math.random()}`
      const quoted = `room:"quoted"${Math.random()}`
      const receivers = await publish(1, [s, quoted])
      await waitFor(() => got.length === receivers)
      const m1 = parseBusMessage(got[0]!)
      expect(m1.header).toBe('{"n":1}')
      expect(m1.body).toBe(body(1))
      const first = positions()
      expect([first.get(s)?.offset, first.get(quoted)?.offset]).toEqual([1, 1])
      got.length = 0
      expect(await publish(2, [s])).toBe(1)
      await waitFor(() => got.length === 1)
      expect(parseBusMessage(got[0]!).positions).toEqual([{ epoch: first.get(s)!.epoch, offset: 2, stream: s }])
    })

    it('reads the events after a position, oldest first, exactly as a receiver frames them', async () => {
      const s = `room:${Math.random()}`
      const start = await engine.streams.read(s, undefined, history)
      expect(start).toMatchObject({ offset: 0, recovered: false, frames: [] })
      for (let n = 1; n <= 3; n++) await publish(n, [s])
      const read = await engine.streams.read(s, { epoch: start.epoch, offset: 1 }, history)
      expect(read).toEqual({ epoch: start.epoch, offset: 3, recovered: true, frames: [streamFrame(body(2), s, 2), streamFrame(body(3), s, 3)] })
      expect(JSON.parse(read.frames[0]!)).toEqual({ type: 'event', event: 'e', data: { n: 2 }, stream: s, offset: 2 })
      expect(await engine.streams.read(s, { epoch: start.epoch, offset: 3 }, history)).toMatchObject({ recovered: true, frames: [] })
    })

    it('says not recovered for another epoch, an offset ahead, or events trimmed away', async () => {
      const s = `device:${Math.random()}`
      for (let n = 1; n <= 5; n++) await publish(n, [s])
      const { epoch } = await engine.streams.read(s, undefined, history)
      expect(await engine.streams.read(s, { epoch: 'other', offset: 4 }, history)).toEqual({ epoch, offset: 5, recovered: false, frames: [] })
      expect(await engine.streams.read(s, { epoch, offset: 1 }, history)).toMatchObject({ recovered: false })
      expect((await engine.streams.read(s, { epoch, offset: 2 }, history)).frames).toHaveLength(3)
      // A client ahead of the stream is not recovered, and cannot change the stream's epoch for the others.
      expect(await engine.streams.read(s, { epoch, offset: 9 }, history)).toEqual({ epoch, offset: 5, recovered: false, frames: [] })
      expect((await engine.streams.read(s, undefined, history)).epoch).toBe(epoch)
    })

    it('takes a publication to 10,000 streams in one step', async () => {
      const run = Math.random()
      const streams = Array.from({ length: 10_000 }, (_, i) => `device:${run}-${i}`)
      const receivers = (await publish(1, streams))!
      await waitFor(() => got.length === receivers)
      const all = positions()
      expect(all.size).toBe(10_000)
      expect([...all.values()].every((p) => p.offset === 1)).toBe(true)
      expect((await engine.streams.read(streams[9_999]!, { epoch: all.get(streams[9_999]!)!.epoch, offset: 0 }, history)).frames).toEqual([
        streamFrame(body(1), streams[9_999]!, 1),
      ])
    })

    it('drops a publication whose idempotency key was seen, storing nothing', async () => {
      const s = `all-${Math.random()}`
      const key = `k-${Math.random()}`
      expect(await publish(1, [s], key)).toBe(1)
      expect(await publish(2, [s], key)).toBeUndefined()
      expect((await engine.streams.read(s, undefined, history)).offset).toBe(1)
    })
  })
}
