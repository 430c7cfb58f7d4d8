import { describe, expect, it } from 'vitest'
import { rateLimited, RoomgateError } from '../../src/errors.js'
import { errorFrame, eventFrame, parseInbound, responseFrame } from '../../src/realtime/protocol.js'

describe('parseInbound', () => {
  const cases: Array<{ desc: string; raw: string; ok: boolean; error?: RegExp; request_id?: unknown }> = [
    { desc: 'a full envelope', raw: '{"event":"lobby.create","request_id":"r1","data":{"a":1}}', ok: true },
    { desc: 'no data (defaults to {})', raw: '{"event":"x"}', ok: true },
    { desc: 'numeric request id', raw: '{"event":"x","request_id":7}', ok: true },
    { desc: 'not JSON', raw: 'hello', ok: false, error: /not valid JSON/ },
    { desc: 'truncated JSON', raw: '{"event":', ok: false, error: /not valid JSON/ },
    { desc: 'a JSON array', raw: '[1,2]', ok: false, error: /JSON object/ },
    { desc: 'JSON null', raw: 'null', ok: false, error: /JSON object/ },
    { desc: 'a number', raw: '42', ok: false, error: /JSON object/ },
    { desc: 'no event', raw: '{"request_id":"r2","data":{}}', ok: false, error: /Missing 'event'/, request_id: 'r2' },
    { desc: 'event not a string', raw: '{"event":5,"request_id":"r3"}', ok: false, error: /Missing 'event'/, request_id: 'r3' },
    { desc: 'empty event', raw: '{"event":""}', ok: false, error: /Missing 'event'/ },
    { desc: 'huge event name', raw: JSON.stringify({ event: 'x'.repeat(300) }), ok: false, error: /longer than 200/ },
    { desc: 'object request id', raw: '{"event":"x","request_id":{}}', ok: false, error: /request_id/ },
  ]
  for (const c of cases) {
    it(c.desc, () => {
      const r = parseInbound(c.raw)
      expect(r.ok).toBe(c.ok)
      if (!r.ok) {
        expect(r.error.message).toMatch(c.error!)
        expect(r.error.code).toBe('bad_request')
        expect(r.request_id).toBe(c.request_id)
      }
    })
  }

  it('keeps data as sent', () => {
    const r = parseInbound('{"event":"x","request_id":"r","data":[1,{"b":null}]}')
    expect(r).toEqual({ ok: true, message: { event: 'x', request_id: 'r', data: [1, { b: null }] } })
  })
})

describe('frames', () => {
  it('match seed 001', () => {
    expect(JSON.parse(responseFrame('lobby.create', 'uuid-123', { code: 'ABC123' }))).toEqual({
      type: 'response',
      event: 'lobby.create',
      request_id: 'uuid-123',
      data: { code: 'ABC123' },
    })
    expect(JSON.parse(eventFrame('lobby.updated', { type: 'participant_joined' }))).toEqual({
      type: 'event',
      event: 'lobby.updated',
      data: { type: 'participant_joined' },
    })
    expect(JSON.parse(errorFrame('lobby.create', 'uuid-123', RoomgateError.fromService('bad_request', "Missing 'code' in data", 400)))).toEqual({
      type: 'error',
      event: 'lobby.create',
      request_id: 'uuid-123',
      error: { code: 'bad_request', message: "Missing 'code' in data" },
    })
    // A rate limit says when to retry.
    expect(JSON.parse(errorFrame('x', undefined, rateLimited(250, 'ws_rate_limited', { ms: 250 })))).toEqual({
      type: 'error',
      event: 'x',
      request_id: null,
      error: { code: 'rate_limited', message: 'Rate limit exceeded; retry in 250 ms', retry_after_ms: 250 },
    })
  })
})
