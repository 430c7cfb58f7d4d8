import { IncomingMessage } from 'node:http'
import { Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { hasDotSegment, requestHeaders, responseHeaders } from '../../src/proxy/headers.js'

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
    'Expect', '100-continue',
    'X-Forwarded-For', '6.6.6.6',
    'X-Forwarded-Proto', 'https',
    'X-Forwarded-Host', 'evil.example',
    'Forwarded', 'for=6.6.6.6',
    'Authorization', 'Bearer t',
    'X-Request-Id', 'abc',
  ])

  it('strips hop-by-hop headers, keeps end-to-end ones, and writes X-Forwarded-* itself', () => {
    const h = pairs(requestHeaders(req, 'measurement:8000', { remoteAddress: '10.0.0.9', encrypted: false, trustProxy: false }))
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

  it('extends the chain only when the peer is trusted', () => {
    const h = pairs(requestHeaders(req, 'm:1', { remoteAddress: '10.0.0.9', encrypted: true, trustProxy: true }))
    expect(h['x-forwarded-for']).toBe('6.6.6.6, 10.0.0.9')
    expect(h['x-forwarded-proto']).toBe('https')
    expect(h['x-forwarded-host']).toBe('evil.example')
  })

  it('says https when roomgate itself terminated TLS', () => {
    const h = pairs(requestHeaders(incoming(['Host', 'a']), 'm:1', { remoteAddress: '::1', encrypted: true, trustProxy: false }))
    expect(h['x-forwarded-proto']).toBe('https')
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

describe('hasDotSegment', () => {
  const cases: Array<[string, boolean]> = [
    ['/v1/measurement/a/b?x=../y', false],
    ['/v1/measurement/file.tar.gz', false],
    ['/v1/measurement/..hidden', false],
    ['/v1/measurement/a..b/c', false],
    ['/v1/measurement/../admin', true],
    ['/v1/measurement/./a', true],
    ['/v1/measurement/..', true],
    ['/v1/measurement/%2e%2e/admin', true],
    ['/v1/measurement/%2E./admin', true],
    ['/v1/measurement/..%2fadmin', true],
    ['/v1/measurement%2f..%2fadmin', true],
    ['/v1/measurement/..%5cadmin', true],
    ['/v1/measurement\\..\\admin', true],
  ]
  for (const [url, expected] of cases) {
    it(`${url} → ${expected}`, () => expect(hasDotSegment(url)).toBe(expected))
  }
})
