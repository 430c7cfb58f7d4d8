/** rateLimit.perDevice: one bucket per device, across its connections and the cluster's instances. */
import { describe, expect, it } from 'vitest'
import { startGate } from '../helpers/gate.js'
import { redisSuite } from '../helpers/redis-suite.js'
import { TestClient } from '../helpers/ws-client.js'

const { redis, clients } = redisSuite()

async function connect(url: string, device: string): Promise<TestClient> {
  const c = await TestClient.connect(`${url}/ws?device_id=${device}`)
  clients.push(c)
  return c
}

describe('per-device rate limit', () => {
  it('shares one bucket between a device’s connections on two instances, and not with other devices', async () => {
    const settings = { rateLimit: { rps: 10_000, burst: 10_000, perDevice: { rps: 0.01, burst: 3 } } }
    const [a, b] = await Promise.all([startGate(settings, { REDIS_URL: redis.url }), startGate(settings, { REDIS_URL: redis.url })])
    const onA = await connect(a.wsUrl, 'phone')
    const onB = await connect(b.wsUrl, 'phone')
    const other = await connect(a.wsUrl, 'tablet')
    const answers = [
      await onA.request('metrics.unsubscribe'),
      await onB.request('metrics.unsubscribe'),
      await onA.request('metrics.unsubscribe'),
      await onB.request('metrics.unsubscribe'),
    ]
    expect(answers.map((m) => m.type)).toEqual(['response', 'response', 'response', 'error'])
    expect(answers[3]!.error).toMatchObject({ code: 'rate_limited', retry_after_ms: expect.any(Number) })
    expect(answers[3]!.error.message).toMatch(/^Too many messages from this device; retry in \d+ ms$/)
    expect((await other.request('metrics.unsubscribe')).type).toBe('response')
  })

  it('keeps a connection’s messages in order while each waits for the shared bucket', async () => {
    const settings = { rateLimit: { rps: 10_000, burst: 10_000, perDevice: { rps: 10_000, burst: 10_000 } } }
    const gate = await startGate(settings, { REDIS_URL: redis.url })
    const c = await connect(gate.wsUrl, 'ordered')
    for (let i = 0; i < 50; i++) c.send({ event: 'metrics.unsubscribe', request_id: i })
    const ids: number[] = []
    for (let i = 0; i < 50; i++) ids.push((await c.next((m) => m.type === 'response')).request_id as number)
    expect(ids).toEqual(Array.from({ length: 50 }, (_, i) => i))
  })
})
