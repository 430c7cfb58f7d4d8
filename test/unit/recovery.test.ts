/**
 * The hub and `recover` together, step by step: live events, a recovery's
 * hold and replay, late deliveries, gaps and departures, in the orders a
 * network can produce. The connections are real Clients over a socket stand-in
 * that records what is sent; the history is the memory engine's.
 */
import { describe, expect, it } from 'vitest'
import type { WebSocket } from 'ws'
import { MemoryBus } from '../../src/engine/memory-bus.js'
import { Registry } from '../../src/metrics/registry.js'
import { Client } from '../../src/realtime/client.js'
import { MemoryStreams } from '../../src/realtime/history/memory.js'
import { Recovery } from '../../src/realtime/history/recovery.js'
import { streamFrame, type HistorySettings, type StreamPosition, type StreamRead } from '../../src/realtime/history/types.js'
import { Hub } from '../../src/realtime/hub.js'
import { RealtimeMetrics } from '../../src/realtime/metrics.js'

const history: HistorySettings = { size: 100, ttlMs: 60_000, metaTtlMs: 60_000 }
const STREAM = 'device:d'
const body = (n: number) => JSON.stringify({ type: 'event', event: 'e', data: { n } })

function socket(): { ws: WebSocket; offsets: () => number[] } {
  const sent: string[] = []
  const ws = { readyState: 1, bufferedAmount: 0, send: (f: Buffer | string) => sent.push(f.toString()), once: () => ws, terminate: () => {} }
  const offsets = () => sent.map((f) => JSON.parse(f) as { offset?: number }).filter((f) => f.offset !== undefined).map((f) => f.offset!)
  return { ws: ws as unknown as WebSocket, offsets }
}

/** A store whose reads wait until the test lets them go. */
class GatedStreams extends MemoryStreams {
  private gates: Array<() => void> = []
  override async read(stream: string, since: StreamPosition | undefined, h: HistorySettings): Promise<StreamRead> {
    await new Promise<void>((resolve) => this.gates.push(resolve))
    return super.read(stream, since, h)
  }
  open(): void {
    for (const g of this.gates.splice(0)) g()
  }
  /** A read that does not wait. */
  peek(stream: string): Promise<StreamRead> {
    return super.read(stream, undefined, history)
  }
}

function setup() {
  const hub = new Hub()
  const store = new GatedStreams(new MemoryBus(() => {}))
  const metrics = new RealtimeMetrics(new Registry(), hub, new Registry().histogram('h', 'h', [], [1]), new Registry().counter('c', 'c', ['k']))
  const recovery = new Recovery(hub, store, history, metrics)
  let epoch = ''
  /** Stores event n and returns its position, as a publish would (delivery is the test's to make). */
  const publish = async (n: number): Promise<StreamPosition> => {
    await store.publish({ header: '{}', body: body(n), streams: [STREAM], history })
    const p = await store.peek(STREAM)
    epoch = p.epoch
    return { epoch: p.epoch, offset: p.offset }
  }
  const deliver = (p: StreamPosition, n: number) => hub.deliverStream(STREAM, p, streamFrame(body(n), STREAM, p.offset))
  const connect = () => {
    const s = socket()
    const client = new Client(s.ws, '127.0.0.1', { rateLimit: { rps: 1, burst: 1 }, maxBufferedBytes: 1e9, onDisconnect: () => {} })
    hub.add(client)
    hub.identify(client, 'd')
    return { client, offsets: s.offsets }
  }
  return { hub, store, recovery, publish, deliver, connect, epoch: () => epoch }
}

const flush = () => new Promise((r) => setImmediate(r))

describe('recover with the hub', () => {
  it('holds live events during the read and sends them after the replay, each once', async () => {
    const t = setup()
    const p1 = await t.publish(1)
    const { client, offsets } = t.connect()
    const p2 = await t.publish(2)
    const p3 = await t.publish(3)
    const answer = t.recovery.recover(client, { [STREAM]: p1 })
    await flush()
    // Live while the history is read: held for this connection.
    const p4 = await t.publish(4)
    t.deliver(p4, 4)
    expect(offsets()).toEqual([])
    t.store.open()
    const { streams } = await answer
    expect(streams[STREAM]).toMatchObject({ recovered: true, offset: 4 })
    expect(offsets()).toEqual([p2.offset, p3.offset, p4.offset])
    t.deliver(await t.publish(5), 5)
    expect(offsets()).toEqual([2, 3, 4, 5])
  })

  it('does not send again an event the replay covered when it comes late (a gap repair)', async () => {
    const t = setup()
    const { client, offsets } = t.connect()
    const p1 = await t.publish(1)
    t.deliver(p1, 1)
    const p2 = await t.publish(2)
    const p3 = await t.publish(3)
    // 2 and 3 are on their way to this instance (being repaired) when the client recovers from 1.
    const answer = t.recovery.recover(client, { [STREAM]: p1 })
    await flush()
    t.store.open()
    await answer
    expect(offsets()).toEqual([1, 2, 3])
    t.deliver(p2, 2)
    t.deliver(p3, 3)
    t.deliver(await t.publish(4), 4)
    expect(offsets()).toEqual([1, 2, 3, 4])
  })

  it('skips in the replay what the connection already had live, and keeps what it did not', async () => {
    const t = setup()
    const p1 = await t.publish(1)
    await t.publish(2)
    const { client, offsets } = t.connect()
    const p3 = await t.publish(3)
    t.deliver(p3, 3)
    const answer = t.recovery.recover(client, { [STREAM]: p1 })
    await flush()
    t.store.open()
    await answer
    expect(offsets()).toEqual([3, 2])
  })

  it('forgets a hold when the connection leaves during the read', async () => {
    const t = setup()
    const p1 = await t.publish(1)
    const { client, offsets } = t.connect()
    const answer = t.recovery.recover(client, { [STREAM]: p1 })
    await flush()
    t.hub.remove(client)
    t.deliver(await t.publish(2), 2)
    t.store.open()
    await answer
    expect(offsets()).toEqual([])
    expect(t.hub.has(STREAM)).toBe(false)
    expect(client.topics.size).toBe(0)
  })

  it('after a gap during the read, claims only the new run: a second recover resends rather than loses', async () => {
    const t = setup()
    const { client, offsets } = t.connect()
    const p1 = await t.publish(1)
    t.deliver(p1, 1)
    await t.publish(2)
    const answer = t.recovery.recover(client, { [STREAM]: p1 })
    await flush()
    await t.publish(3)
    const p4 = await t.publish(4)
    t.deliver(p4, 4) // 2 and 3 never reached this instance: a gap
    t.store.open()
    await answer
    expect(offsets()).toEqual([1, 2, 3, 4])
    const again = t.recovery.recover(client, { [STREAM]: p1 })
    await flush()
    t.store.open()
    await again
    // Nothing lost; what it cannot be sure it sent, it sends again.
    expect(new Set(offsets())).toEqual(new Set([1, 2, 3, 4]))
  })
})
