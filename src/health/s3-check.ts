/**
 * Seed 002's S3 check: HEAD on the bucket (S3's HeadBucket), signed with
 * SigV4 when credentials exist. A 200 is healthy; anything else is unhealthy
 * with a reason an operator can act on ("access denied", "bucket not found",
 * "bucket is in eu-west-1"). HEAD answers carry no body, so the reason comes
 * from the status and S3's `x-amz-bucket-region` header.
 */
import type { Dispatcher } from 'undici'
import { safeUrl } from '../log.js'
import { CredentialError, type CredentialSource } from './credentials.js'
import { probe, ProbeError } from './probe.js'
import { signRequest, UNSIGNED_PAYLOAD } from './sigv4.js'
import type { Check, CheckResult } from './types.js'

export interface S3CheckOptions {
  name: string
  bucket: string
  region: string
  /** An S3-compatible store: path-style requests `{endpoint}/{bucket}`. */
  endpoint?: string | undefined
  timeoutMs: number
  dispatcher: Dispatcher
  credentials: CredentialSource
}

/**
 * Virtual-hosted `https://{bucket}.s3.{region}.amazonaws.com/` on AWS, except
 * for bucket names with dots, which break the wildcard TLS certificate and so
 * go path-style; `{endpoint}/{bucket}` for other stores.
 */
export function s3BucketUrl(bucket: string, region: string, endpoint?: string): URL {
  if (endpoint !== undefined) {
    const url = new URL(endpoint)
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/${bucket}`
    url.search = ''
    url.hash = ''
    url.username = ''
    url.password = ''
    return url
  }
  const domain = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'
  return bucket.includes('.')
    ? new URL(`https://s3.${region}.${domain}/${bucket}`)
    : new URL(`https://${bucket}.s3.${region}.${domain}/`)
}

const header = (headers: Record<string, string | string[] | undefined>, name: string): string | undefined => {
  const v = headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** The reason a HeadBucket answer is not a 200. */
export function s3Failure(statusCode: number, bucketRegion: string | undefined, region: string): string {
  const elsewhere = bucketRegion && bucketRegion !== region ? `; the bucket is in ${bucketRegion}, not ${region}` : ''
  switch (statusCode) {
    case 301:
    case 307:
      return `redirected (${statusCode})${elsewhere || ': wrong region or endpoint'}`
    case 400:
      return `bad request (400)${elsewhere || ': wrong region or endpoint?'}`
    case 403:
      return `access denied (403)${elsewhere}`
    case 404:
      return 'bucket not found (404)'
    default:
      return statusCode >= 500 ? `S3 unavailable (${statusCode})` : `unexpected answer (${statusCode})`
  }
}

export class S3Check implements Check {
  readonly kind = 's3'
  readonly name: string
  readonly target: string
  readonly region: string
  private readonly url: URL

  constructor(private readonly o: S3CheckOptions) {
    this.name = o.name
    this.region = o.region
    this.url = s3BucketUrl(o.bucket, o.region, o.endpoint)
    this.target = safeUrl(this.url.toString())
  }

  async run(signal: AbortSignal): Promise<CheckResult> {
    let headers: Record<string, string>
    try {
      const credentials = await this.o.credentials.get()
      headers = credentials
        ? signRequest({ method: 'HEAD', url: this.url, region: this.o.region, credentials, payloadHash: UNSIGNED_PAYLOAD })
        : { host: this.url.host }
    } catch (err) {
      const reason = err instanceof CredentialError ? err.message : 'credentials unavailable'
      return { ok: false, latency: null, error: `no credentials: ${reason}` }
    }
    try {
      const answer = await probe({
        url: this.url.toString(),
        method: 'HEAD',
        headers,
        timeoutMs: this.o.timeoutMs,
        dispatcher: this.o.dispatcher,
        signal,
      })
      const ok = answer.statusCode >= 200 && answer.statusCode < 300
      const error = ok ? null : s3Failure(answer.statusCode, header(answer.headers, 'x-amz-bucket-region'), this.o.region)
      return { ok, latency: answer.latency, error }
    } catch (err) {
      return { ok: false, latency: null, error: err instanceof ProbeError ? err.message : 'request failed' }
    }
  }
}
