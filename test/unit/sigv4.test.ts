/**
 * SigV4 against the examples AWS publishes: the S3 examples of "Signature
 * Calculations for the Authorization Header" (GET Object, GET Bucket
 * Lifecycle, List Objects with AKIAIOSFODNN7EXAMPLE) and the generic test
 * suite's get-vanilla-query-order-key-case.
 */
import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  amzDate,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  credentialScope,
  EMPTY_SHA256,
  sha256Hex,
  signingKey,
  signRequest,
  stringToSign,
  UNSIGNED_PAYLOAD,
} from '../../src/health/sigv4.js'

const S3_EXAMPLE = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
}
const DATE = new Date('2013-05-24T00:00:00Z')

function parts(authorization: string) {
  const m = /^AWS4-HMAC-SHA256 Credential=(.+), SignedHeaders=(.+), Signature=([0-9a-f]{64})$/.exec(authorization)
  expect(m, authorization).not.toBeNull()
  return { credential: m![1], signedHeaders: m![2], signature: m![3] }
}

describe('sigv4', () => {
  it('reproduces the AWS S3 GET Object example (Range, empty-body hash)', () => {
    const url = new URL('https://examplebucket.s3.amazonaws.com/test.txt')
    const headers = signRequest({
      method: 'GET',
      url,
      region: 'us-east-1',
      credentials: S3_EXAMPLE,
      headers: { Range: 'bytes=0-9' },
      date: DATE,
    })
    expect(
      canonicalRequest('GET', url, { host: url.host, range: 'bytes=0-9', 'x-amz-content-sha256': EMPTY_SHA256, 'x-amz-date': '20130524T000000Z' }, EMPTY_SHA256),
    ).toBe(
      [
        'GET',
        '/test.txt',
        '',
        'host:examplebucket.s3.amazonaws.com',
        'range:bytes=0-9',
        `x-amz-content-sha256:${EMPTY_SHA256}`,
        'x-amz-date:20130524T000000Z',
        '',
        'host;range;x-amz-content-sha256;x-amz-date',
        EMPTY_SHA256,
      ].join('\n'),
    )
    expect(parts(headers.authorization!)).toEqual({
      credential: 'AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request',
      signedHeaders: 'host;range;x-amz-content-sha256;x-amz-date',
      signature: 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    })
    expect(headers).toMatchObject({ host: 'examplebucket.s3.amazonaws.com', range: 'bytes=0-9', 'x-amz-date': '20130524T000000Z' })
  })

  it.each([
    { desc: 'GET Bucket Lifecycle (?lifecycle)', url: '/?lifecycle', signature: 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543' },
    { desc: 'GET Bucket, List Objects', url: '/?max-keys=2&prefix=J', signature: '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7' },
  ])('reproduces the AWS S3 example $desc', ({ url, signature }) => {
    const headers = signRequest({
      method: 'GET',
      url: new URL(url, 'https://examplebucket.s3.amazonaws.com'),
      region: 'us-east-1',
      credentials: S3_EXAMPLE,
      date: DATE,
    })
    expect(parts(headers.authorization!)).toEqual({
      credential: 'AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request',
      signedHeaders: 'host;x-amz-content-sha256;x-amz-date',
      signature,
    })
  })

  it('reproduces the AWS test suite get-vanilla-query-order-key-case (query sorted by key)', () => {
    // The suite signs host and x-amz-date only, so this goes through the building blocks.
    const url = new URL('https://example.amazonaws.com/?Param2=value2&Param1=value1')
    const date = new Date('2015-08-30T12:36:00Z')
    const canonical = canonicalRequest('GET', url, { Host: 'example.amazonaws.com', 'X-Amz-Date': amzDate(date) }, EMPTY_SHA256)
    expect(canonical.split('\n')[2]).toBe('Param1=value1&Param2=value2')
    const scope = credentialScope(date, 'us-east-1', 'service')
    const key = signingKey('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', date, 'us-east-1', 'service')
    const signature = createHmac('sha256', key).update(stringToSign(date, scope, canonical)).digest('hex')
    expect(signature).toBe('b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500')
  })

  it.each([
    { desc: 'root', url: 'https://b.s3.us-east-1.amazonaws.com/', uri: '/' },
    { desc: 'path-style bucket', url: 'http://127.0.0.1:9000/my-bucket', uri: '/my-bucket' },
    { desc: 'spaces and reserved characters, encoded once', url: 'https://h/a%20b/c(1)*', uri: '/a%20b/c%281%29%2A' },
    { desc: 'unreserved characters stay', url: 'https://h/A-z_0.9~', uri: '/A-z_0.9~' },
  ])('canonical URI: $desc', ({ url, uri }) => {
    expect(canonicalUri(new URL(url))).toBe(uri)
  })

  it('canonical query: encoded, sorted by key then value, empty values kept', () => {
    expect(canonicalQuery(new URL('https://h/?prefix=a b&max-keys=2&lifecycle&a=2&a=1'))).toBe('a=1&a=2&lifecycle=&max-keys=2&prefix=a%20b')
  })

  it('adds and signs the session token of temporary credentials', () => {
    const headers = signRequest({
      method: 'HEAD',
      url: new URL('https://b.s3.eu-west-1.amazonaws.com/'),
      region: 'eu-west-1',
      credentials: { ...S3_EXAMPLE, sessionToken: 'token/with+chars' },
      payloadHash: UNSIGNED_PAYLOAD,
      date: DATE,
    })
    expect(headers['x-amz-security-token']).toBe('token/with+chars')
    expect(headers['x-amz-content-sha256']).toBe(UNSIGNED_PAYLOAD)
    expect(parts(headers.authorization!)).toMatchObject({
      credential: 'AKIAIOSFODNN7EXAMPLE/20130524/eu-west-1/s3/aws4_request',
      signedHeaders: 'host;x-amz-content-sha256;x-amz-date;x-amz-security-token',
    })
  })

  it('formats dates and hashes as SigV4 wants them', () => {
    expect(amzDate(new Date('2024-02-29T23:59:58.123Z'))).toBe('20240229T235958Z')
    expect(sha256Hex('')).toBe(EMPTY_SHA256)
  })
})
