/** The events roomgate answers itself: each payload is checked by its schema before anything runs. */
import { afterEach, describe, expect, it } from 'vitest'
import { closeGates, startGate } from '../helpers/gate.js'
import { TestClient } from '../helpers/ws-client.js'

const clients: TestClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  await closeGates()
})

async function connected(): Promise<{ c: TestClient; events: string[] }> {
  const gate = await startGate({ rateLimit: { rps: 10_000, burst: 10_000 }, auth: { apiKeys: ['k'], bearerTokens: ['t'] } })
  const c = await TestClient.connect(`${gate.wsUrl}/ws?device_id=d1`)
  clients.push(c)
  return { c, events: gate.server.realtime.local.list().map((e) => e.name) }
}

describe('local /ws events', () => {
  it.each([
    ['identify', { device_id: 5 }, 'data.device_id: must be string'],
    ['identify', {}, 'data.device_id: is required'],
    ['identify', { device_id: 'a\u0001b' }, 'data.device_id: must match pattern'],
    ['room.join', {}, 'data.room: is required'],
    ['room.join', { room: '..' }, 'data.room'],
    ['room.join', { room: 'r', user_id: 'a\nb' }, 'data.user_id: must match pattern'],
    ['room.join', { room: 'r', user_id: '' }, 'data.user_id: must not have fewer than 1'],
    ['room.leave', { room: true }, 'data.room'],
    ['job.subscribe', { job_id: 1 }, 'data.job_id'],
    ['job.unsubscribe', {}, 'data.job_id: is required'],
    ['dashboard.subscribe', { token: 5 }, 'data.token: must be string'],
    ['recover', { since: { 'device:d1': { epoch: 'e' } } }, 'data.since.device:d1.offset: is required'],
    ['recover', { since: { 'device:d1': { epoch: 'e', offset: -1 } } }, 'data.since.device:d1.offset'],
  ])('%s refuses %j with bad_request naming the field', async (event, data, message) => {
    const { c } = await connected()
    const answer = await c.request(event, data)
    expect(answer).toMatchObject({ type: 'error', event, error: { code: 'bad_request' } })
    expect(answer.error.message).toContain(message)
  })

  it('refuses a payload that is not an object for every registered event, before its handler runs', async () => {
    const { c, events } = await connected()
    expect(events.length).toBeGreaterThanOrEqual(10)
    for (const event of events) {
      const answer = await c.request(event, 'not-an-object')
      expect(answer, event).toMatchObject({ type: 'error', error: { code: 'bad_request', message: 'data: must be object' } })
    }
  })

  it('allows unknown fields in data', async () => {
    const { c } = await connected()
    expect(await c.request('identify', { device_id: 'd1', extra: true })).toMatchObject({ type: 'response', data: { device_id: 'd1' } })
    expect(await c.request('metrics.subscribe', { whatever: 1 })).toMatchObject({ type: 'response', data: { subscribed: true } })
  })
})
