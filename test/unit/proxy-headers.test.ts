import { IncomingMessage } from 'node:http'
import { Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { requestHeaders, responseHeaders, targetProblem, type TargetProblem } from '../../src/proxy/headers.js'

function incoming(raw: string[]): IncomingMessage {
  const req = new IncomingMessage(new Socket())
  req.rawHeaders = raw
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase()
    const prev = req.headers[k]
    req.headers[k] = prev === undefined ? raw[i + 1]! : `${String(prev)}, ${raw[i + 1]!}`
  }
  return req
}

const pairs = (flat: string[]) => Object.fromEntries(flat.flatMap((_, i) => (i % 2 ? [] : [[flat[i]!, flat[i + 1]!]])))

describe('requestHeaders', () => {
  const req = incoming([
    'Host', 'gw.example.com',
    'Content-Type', 'application/json',
    'Connection', 'keep-alive, X-Secret-Hop',
    'X-Secret-Hop', '1',
    'Keep-Alive', 'timeout=5',
    'Transfer-Encoding', 'chunked',
    'TE', 'trailers',
    'Upgrade', 'h2c',
    'Proxy-Authorization', 'Basic abc',
    'Proxy', 'http://evil:1',
    'Proxy-Anything', 'x',
    'Expect', '100-continue',
    'X-Forwarded-For', '6.6.6.6',
    'X-Forwarded-Proto', 'https',
    'X-Forwarded-Host', 'evil.example',
    'Forwarded', 'for=6.6.6.6',
    'X-Real-IP', '6.6.6.6',
    'True-Client-IP', '6.6.6.6',
    'Authorization', 'Bearer t',
    'X-Request-Id', 'abc',
  ])

  it('strips hop-by-hop and address-claiming headers, keeps end-to-end ones, and writes X-Forwarded-* itself', () => {
    const h = pairs(requestHeaders(req, 'measurement:8000', { for: '10.0.0.9', proto: 'http', host: 'gw.example.com' }))
    expect(h).toEqual({
      'Content-Type': 'application/json',
      Authorization: 'Bearer t',
      'X-Request-Id': 'abc',
      host: 'measurement:8000',
      'x-forwarded-for': '10.0.0.9',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'gw.example.com',
    })
  })

  it("never forwards a client's X-Roomgate-* headers, in any spelling, and writes X-Roomgate-Device-Id only for a verified device", () => {
    const forged = incoming([
      'X-Roomgate-Device-Id', 'someone-else',
      'x-roomgate-anything', '1',
      'X-ROOMGATE-DEVICE-ID', 'again',
      'X-Roomgate', 'not ours: no dash after the prefix',
      'Authorization', 'Bearer t',
    ])
    const fwd = { for: '10.0.0.9', proto: 'http', host: undefined }
    expect(pairs(requestHeaders(forged, 'm:1', fwd))).toEqual({
      'X-Roomgate': 'not ours: no dash after the prefix',
      Authorization: 'Bearer t',
      host: 'm:1',
      'x-forwarded-for': '10.0.0.9',
      'x-forwarded-proto': 'http',
    })
    const verified = requestHeaders(forged, 'm:1', { ...fwd, deviceId: 'dev-7' })
    expect(verified.filter((_, i) => i % 2 === 0 && verified[i]!.toLowerCase().startsWith('x-roomgate-'))).toEqual(['x-roomgate-device-id'])
    expect(pairs(verified)['x-roomgate-device-id']).toBe('dev-7')
  })

  it('sends a device id outside Latin-1 as its UTF-8 bytes rather than failing the call', () => {
    const h = pairs(requestHeaders(incoming([]), 'm:1', { for: '::1', proto: 'http', host: undefined, deviceId: 'gerät-日本' }))
    expect(Buffer.from(h['x-roomgate-device-id']!, 'latin1').toString('utf8')).toBe('gerät-日本')
  })

  it('omits X-Forwarded-Host when the client sent no Host', () => {
    const h = pairs(requestHeaders(incoming([]), 'm:1', { for: '::1', proto: 'https', host: undefined }))
    expect(h).toEqual({ host: 'm:1', 'x-forwarded-for': '::1', 'x-forwarded-proto': 'https' })
  })
})

describe('responseHeaders', () => {
  it('drops hop-by-hop headers and those named in Connection', () => {
    expect(
      responseHeaders({
        'content-type': 'text/plain',
        connection: 'close, x-hop',
        'x-hop': '1',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        'set-cookie': ['a=1', 'b=2'],
      }),
    ).toEqual({ 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] })
  })
})

describe('targetProblem', () => {
  const cases: Array<[string, TargetProblem | undefined]> = [
    ['/v1/measurement/a/b?x=../y', undefined],
    ['/v1/measurement/file.tar.gz', undefined],
    ['/v1/measurement/..hidden', undefined],
    ['/v1/measurement/a..b/c', undefined],
    ['/v1/measurement/a;b=1', undefined],
    ['/v1/measurement/../admin', 'target_dot_segment'],
    ['/v1/measurement/./a', 'target_dot_segment'],
    ['/v1/measurement/..', 'target_dot_segment'],
    ['/v1/measurement/%2e%2e/admin', 'target_dot_segment'],
    ['/v1/measurement/%2E./admin', 'target_dot_segment'],
    ['/v1/measurement/..%2fadmin', 'target_dot_segment'],
    ['/v1/measurement%2f..%2fadmin', 'target_dot_segment'],
    ['/v1/measurement/..%5cadmin', 'target_dot_segment'],
    ['/v1/measurement\\..\\admin', 'target_dot_segment'],
    ['/v1/measurement/..;/admin', 'target_dot_segment'],
    ['/v1/measurement/..;jsessionid=x/admin', 'target_dot_segment'],
    ['http://evil.example/v1/measurement/x', 'target_not_origin_form'],
    ['*', 'target_not_origin_form'],
    ['/v1/measurement/x#frag', 'target_fragment'],
  ]
  for (const [url, problem] of cases) {
    it(`${url} → ${problem ?? 'forwarded'}`, () => {
      const p = targetProblem(url)
      expect(p).toBe(problem)
    })
  }
})
