/**
 * AWS Signature Version 4 for the bodyless requests a health check sends
 * (HEAD bucket, GET). A few dozen lines of node:crypto instead of the AWS SDK:
 * the gateway only ever signs one kind of request. Pure functions, checked
 * against the published S3 examples in test/unit/sigv4.test.ts.
 */
import { createHash, createHmac } from 'node:crypto'

export const ALGORITHM = 'AWS4-HMAC-SHA256'
/** The SHA-256 of an empty body. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD'

export interface AwsCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
}

export interface SignInput {
  method: string
  url: URL
  region: string
  credentials: AwsCredentials
  /** @defaultValue 's3' */
  service?: string
  /** Further headers to send and sign (lowercase or not). */
  headers?: Readonly<Record<string, string>>
  /** @defaultValue the empty-body hash: the body is always empty here */
  payloadHash?: string
  /** @defaultValue now */
  date?: Date
}

export const sha256Hex = (data: string): string => createHash('sha256').update(data, 'utf8').digest('hex')

const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest()

/** `20130524T000000Z` */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')
}

/** RFC 3986 encoding, as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
function encodeRfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** S3 encodes each path segment once (other services encode twice; S3 does not). */
export function canonicalUri(url: URL): string {
  const path = url.pathname || '/'
  return path
    .split('/')
    .map((segment) => encodeRfc3986(safeDecode(segment)))
    .join('/')
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

export function canonicalQuery(url: URL): string {
  const pairs = [...url.searchParams].map(([k, v]) => [encodeRfc3986(k), encodeRfc3986(v)] as const)
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
  return pairs.map(([k, v]) => `${k}=${v}`).join('&')
}

/** Lowercase names, trimmed values with inner runs of spaces collapsed, sorted by name. */
function canonicalHeaders(headers: Readonly<Record<string, string>>): { text: string; signed: string } {
  const entries = Object.entries(headers)
    .map(([k, v]) => [k.toLowerCase(), v.trim().replace(/\s+/g, ' ')] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return {
    text: entries.map(([k, v]) => `${k}:${v}\n`).join(''),
    signed: entries.map(([k]) => k).join(';'),
  }
}

export function canonicalRequest(method: string, url: URL, headers: Readonly<Record<string, string>>, payloadHash: string): string {
  const { text, signed } = canonicalHeaders(headers)
  return [method.toUpperCase(), canonicalUri(url), canonicalQuery(url), text, signed, payloadHash].join('\n')
}

export function credentialScope(date: Date, region: string, service: string): string {
  return `${amzDate(date).slice(0, 8)}/${region}/${service}/aws4_request`
}

export function stringToSign(date: Date, scope: string, canonical: string): string {
  return [ALGORITHM, amzDate(date), scope, sha256Hex(canonical)].join('\n')
}

export function signingKey(secretAccessKey: string, date: Date, region: string, service: string): Buffer {
  const day = hmac(`AWS4${secretAccessKey}`, amzDate(date).slice(0, 8))
  return hmac(hmac(hmac(day, region), service), 'aws4_request')
}

/**
 * The headers to send with the request: the caller's, plus `host`,
 * `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token` (temporary
 * credentials) and `authorization`. All of them are signed.
 */
export function signRequest(input: SignInput): Record<string, string> {
  const date = input.date ?? new Date()
  const service = input.service ?? 's3'
  const payloadHash = input.payloadHash ?? EMPTY_SHA256
  const { credentials } = input
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(input.headers ?? {})) headers[k.toLowerCase()] = v
  headers.host = input.url.host
  headers['x-amz-date'] = amzDate(date)
  headers['x-amz-content-sha256'] = payloadHash
  if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken

  const canonical = canonicalRequest(input.method, input.url, headers, payloadHash)
  const scope = credentialScope(date, input.region, service)
  const signature = createHmac('sha256', signingKey(credentials.secretAccessKey, date, input.region, service))
    .update(stringToSign(date, scope, canonical), 'utf8')
    .digest('hex')
  const signed = Object.keys(headers).sort().join(';')
  headers.authorization = `${ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signed}, Signature=${signature}`
  return headers
}
