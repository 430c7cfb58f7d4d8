/**
 * A tiny S3 stand-in on 127.0.0.1:0 for the health tests: HEAD/GET
 * `/{bucket}` (path-style) answers 200 for known buckets and 404 otherwise.
 * It verifies SigV4 on its own (written from the AWS documentation, not with
 * src/health/sigv4.ts, so a bug there cannot hide here) and can be told to
 * require auth, delay its answers, or fail. Every request is recorded.
 */
import { createHash, createHmac } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { startUpstream, type TestUpstream } from './upstream.js'

export interface FakeS3Options {
  buckets: string[]
  accessKeyId: string
  secretAccessKey: string
  /** Temporary credentials: requests must carry and sign this x-amz-security-token. */
  sessionToken?: string
  region?: string
  /** Unsigned requests get 403 (a private bucket). */
  requireAuth?: boolean
}

export interface FakeS3Request {
  method: string
  path: string
  headers: IncomingMessage['headers']
  /** undefined: unsigned; otherwise the verdict on the signature. */
  signature: 'valid' | 'invalid' | undefined
}

export interface FakeS3 extends TestUpstream {
  requests: FakeS3Request[]
  /** Answer after this many ms (0: at once). */
  delayMs: number
  /** Answer every request with this status instead. */
  failWith: number | undefined
  requireAuth: boolean
}

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest()
const hash = (data: string) => createHash('sha256').update(data).digest('hex')
const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/

/** Recomputes the signature of a received request; returns the S3 error code, or undefined when it is valid. */
function verify(req: IncomingMessage, o: FakeS3Options): string | undefined {
  const m = AUTH.exec(req.headers.authorization ?? '')
  if (!m) return 'AuthorizationHeaderMalformed'
  const [, keyId, day, region, signedHeaders, signature] = m as unknown as string[]
  if (keyId !== o.accessKeyId) return 'InvalidAccessKeyId'
  if (region !== (o.region ?? 'us-east-1')) return 'AuthorizationHeaderMalformed'
  const amzDate = String(req.headers['x-amz-date'])
  if (!amzDate.startsWith(day!)) return 'AuthorizationHeaderMalformed'
  const when = Date.parse(amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'))
  if (!(Math.abs(Date.now() - when) < 15 * 60_000)) return 'RequestTimeTooSkewed'
  const names = signedHeaders!.split(';')
  if (!names.includes('host') || !names.includes('x-amz-date')) return 'AccessDenied'
  if (o.sessionToken !== undefined && (req.headers['x-amz-security-token'] !== o.sessionToken || !names.includes('x-amz-security-token'))) {
    return 'InvalidToken'
  }
  const url = new URL(req.url ?? '/', 'http://fake')
  const query = [...url.searchParams]
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .sort()
    .join('&')
  const headerLines = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('')
  const canonical = [req.method, url.pathname, query, headerLines, signedHeaders, req.headers['x-amz-content-sha256'] ?? ''].join('\n')
  const scope = `${day}/${region}/s3/aws4_request`
  const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${hash(canonical)}`
  const key = hmac(hmac(hmac(hmac(`AWS4${o.secretAccessKey}`, day!), region!), 's3'), 'aws4_request')
  return createHmac('sha256', key).update(toSign).digest('hex') === signature ? undefined : 'SignatureDoesNotMatch'
}

function answer(req: IncomingMessage, res: ServerResponse, status: number, code?: string): void {
  const body = code && req.method !== 'HEAD' ? `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code></Error>` : ''
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), 'x-amz-bucket-region': 'us-east-1' })
  res.end(req.method === 'HEAD' ? undefined : body)
}

export async function startFakeS3(o: FakeS3Options): Promise<FakeS3> {
  const buckets = new Set(o.buckets)
  const up = await startUpstream((req, res) => {
    const signed = req.headers.authorization !== undefined
    const problem = signed ? verify(req, o) : undefined
    fake.requests.push({
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      signature: signed ? (problem ? 'invalid' : 'valid') : undefined,
    })
    const reply = () => {
      if (fake.failWith !== undefined) return answer(req, res, fake.failWith, 'InternalError')
      if (req.method !== 'HEAD' && req.method !== 'GET') return answer(req, res, 405, 'MethodNotAllowed')
      if (problem) return answer(req, res, 403, problem)
      if (!signed && fake.requireAuth) return answer(req, res, 403, 'AccessDenied')
      const bucket = decodeURIComponent(new URL(req.url ?? '/', 'http://fake').pathname.split('/')[1] ?? '')
      return buckets.has(bucket) ? answer(req, res, 200) : answer(req, res, 404, 'NoSuchBucket')
    }
    if (fake.delayMs > 0) setTimeout(reply, fake.delayMs)
    else reply()
  })
  const fake: FakeS3 = Object.assign(up, { requests: [], delayMs: 0, failWith: undefined, requireAuth: o.requireAuth ?? true })
  return fake
}
