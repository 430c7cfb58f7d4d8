import { describe, expect, it } from 'vitest'
import { errorFromReply } from '../../src/events/reply.js'
import { upstreamFailure } from '../../src/upstream/errors.js'

describe('errorFromReply keeps the upstream code and message', () => {
  const cases: Array<{ desc: string; status: number; body: unknown; code: string; message: string }> = [
    { desc: 'flat {code, message}', status: 400, body: { code: 'lobby_full', message: 'Lobby is full' }, code: 'lobby_full', message: 'Lobby is full' },
    {
      desc: "seed 001's error envelope",
      status: 400,
      body: { error: { code: 'bad_request', message: "Missing 'code' in data" } },
      code: 'bad_request',
      message: "Missing 'code' in data",
    },
    { desc: "roomgate's own shape", status: 404, body: { success: false, error: 'No such lobby', code: 'lobby_not_found' }, code: 'lobby_not_found', message: 'No such lobby' },
    { desc: 'FastAPI detail', status: 422, body: { detail: 'Field required' }, code: 'bad_request', message: 'Field required' },
    { desc: '404 without a body', status: 404, body: undefined, code: 'not_found', message: 'Service lobby answered 404' },
    { desc: '500 without a code', status: 500, body: { message: 'boom' }, code: 'upstream_error', message: 'boom' },
    { desc: '503 with HTML', status: 503, body: undefined, code: 'upstream_error', message: 'Service lobby answered 503' },
    { desc: 'a redirect the gateway cannot follow', status: 302, body: undefined, code: 'upstream_error', message: 'Service lobby answered 302' },
    { desc: 'a code that is not a code', status: 409, body: { code: 'has spaces!', message: 'm' }, code: 'conflict', message: 'm' },
  ]
  for (const c of cases) {
    it(c.desc, () => {
      const err = errorFromReply('lobby', c.status, c.body)
      expect([err.code, err.message, err.status]).toEqual([c.code, c.message, c.status])
    })
  }
})

describe('upstreamFailure', () => {
  const cases: Array<[string, unknown, string]> = [
    ['connection refused', Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), 'upstream_unavailable'],
    ['DNS failure', Object.assign(new Error('x'), { code: 'ENOTFOUND' }), 'upstream_unavailable'],
    ['headers timeout', Object.assign(new Error('x'), { code: 'UND_ERR_HEADERS_TIMEOUT' }), 'upstream_timeout'],
    ['body timeout', Object.assign(new Error('x'), { code: 'UND_ERR_BODY_TIMEOUT' }), 'upstream_timeout'],
    ['wrapped cause', Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNREFUSED' } }), 'upstream_unavailable'],
    ['socket closed mid-answer', Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }), 'upstream_error'],
  ]
  for (const [desc, err, code] of cases) {
    it(desc, () => expect(upstreamFailure('lobby', err).code).toBe(code))
  }
})
