/**
 * The part of the AWS credential chain a gateway in a container needs:
 *   1. `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`);
 *   2. the ECS/Fargate (or EKS Pod Identity) container endpoint:
 *      `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` on 169.254.170.2, or
 *      `AWS_CONTAINER_CREDENTIALS_FULL_URI` with `AWS_CONTAINER_AUTHORIZATION_TOKEN`
 *      (or `…_TOKEN_FILE`), cached until five minutes before they expire;
 *   3. nothing: requests go unsigned (public buckets, local stores).
 * The environment is a parameter, read once. No secret reaches a log line or
 * an error message.
 */
import { readFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { Agent, request } from 'undici'
import type { Logger } from '../log.js'
import type { AwsCredentials } from './sigv4.js'

export const ECS_CREDENTIALS_HOST = 'http://169.254.170.2'
/** Fresh credentials are fetched this long before the cached ones expire. */
export const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000
/** A credentials answer larger than this is not a credentials answer. */
const MAX_ANSWER_BYTES = 16 * 1024

/**
 * Plain http is only trusted on the container agent's own addresses, as the
 * AWS SDKs do: the authorization token must not travel to any other host.
 */
const TRUSTED_HTTP_HOSTS = new Set(['169.254.170.2', '169.254.170.23', '[fd00:ec2::23]', 'localhost'])

export interface CredentialSource {
  /** Undefined: no credentials configured, send unsigned requests. Throws when configured ones cannot be had. */
  get(): Promise<AwsCredentials | undefined>
  close(): Promise<void>
}

export interface CachedCredentials {
  credentials: AwsCredentials
  /** ms since the epoch; Infinity when the endpoint gave no expiration. */
  expiresAt: number
}

export class CredentialError extends Error {
  override name = 'CredentialError'
}

/** Picks the source the environment describes. */
export function credentialsFromEnv(env: NodeJS.ProcessEnv, options: { timeoutMs: number; log: Logger }): CredentialSource {
  const accessKeyId = env.AWS_ACCESS_KEY_ID
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY
  if (accessKeyId && secretAccessKey) {
    const credentials: AwsCredentials = { accessKeyId, secretAccessKey }
    if (env.AWS_SESSION_TOKEN) credentials.sessionToken = env.AWS_SESSION_TOKEN
    return { get: () => Promise.resolve(credentials), close: () => Promise.resolve() }
  }
  if (accessKeyId || secretAccessKey) {
    options.log.warn('only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set; ignoring them')
  }
  const relative = env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
  const full = env.AWS_CONTAINER_CREDENTIALS_FULL_URI
  if (relative) return new ContainerCredentials({ url: `${ECS_CREDENTIALS_HOST}${relative}`, ...options })
  if (full) {
    return new ContainerCredentials({
      url: full,
      token: env.AWS_CONTAINER_AUTHORIZATION_TOKEN,
      tokenFile: env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE,
      ...options,
    })
  }
  return { get: () => Promise.resolve(undefined), close: () => Promise.resolve() }
}

/** Why a container-credentials URL may not be used, or undefined when it may. */
export function containerUrlProblem(text: string): string | undefined {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return 'is not a URL'
  }
  if (url.protocol === 'https:') return undefined
  if (url.protocol !== 'http:') return 'must use http or https'
  const host = url.hostname
  if (TRUSTED_HTTP_HOSTS.has(host)) return undefined
  if (isIP(host) === 4 && host.startsWith('127.')) return undefined
  if (host === '[::1]') return undefined
  return 'must use https unless it is a loopback or container-agent address'
}

interface ContainerOptions {
  url: string
  token?: string | undefined
  tokenFile?: string | undefined
  timeoutMs: number
  log: Logger
}

/** Credentials from the container agent's endpoint, cached; one fetch at a time. */
export class ContainerCredentials implements CredentialSource {
  private cached: CachedCredentials | undefined
  private fetching: Promise<CachedCredentials> | undefined
  private readonly agent: Agent
  private readonly closing = new AbortController()

  constructor(private readonly o: ContainerOptions) {
    this.agent = new Agent({ connectTimeout: o.timeoutMs, headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs })
  }

  async get(): Promise<AwsCredentials> {
    const now = Date.now()
    const cached = this.cached
    if (cached && now < cached.expiresAt - REFRESH_BEFORE_EXPIRY_MS) return cached.credentials
    this.fetching ??= this.fetch().finally(() => (this.fetching = undefined))
    try {
      this.cached = await this.fetching
      return this.cached.credentials
    } catch (err) {
      // A failed refresh is not an outage while the old credentials still work.
      if (cached && Date.now() < cached.expiresAt) {
        this.o.log.warn({ err: (err as Error).message }, 'could not refresh container credentials; using the current ones')
        return cached.credentials
      }
      throw err
    }
  }

  async close(): Promise<void> {
    this.closing.abort()
    await this.agent.close()
  }

  private async fetch(): Promise<CachedCredentials> {
    const problem = containerUrlProblem(this.o.url)
    if (problem) throw new CredentialError(`container credentials URL ${problem}`)
    const headers: Record<string, string> = { accept: 'application/json' }
    let token = this.o.token
    if (this.o.tokenFile) {
      // Read on every fetch: the agent rotates the file.
      try {
        token = (await readFile(this.o.tokenFile, 'utf8')).trim()
      } catch (err) {
        throw new CredentialError(`cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
      }
    }
    if (token) headers.authorization = token
    const timeout = AbortSignal.timeout(this.o.timeoutMs)
    let statusCode: number
    let text: string
    try {
      const res = await request(this.o.url, {
        method: 'GET',
        headers,
        dispatcher: this.agent,
        signal: AbortSignal.any([timeout, this.closing.signal]),
      })
      statusCode = res.statusCode
      text = await readLimited(res.body)
    } catch (err) {
      if (timeout.aborted) throw new CredentialError(`container credentials endpoint timed out after ${this.o.timeoutMs} ms`)
      throw new CredentialError(`container credentials endpoint unreachable: ${(err as Error).message}`)
    }
    if (statusCode !== 200) throw new CredentialError(`container credentials endpoint answered ${statusCode}`)
    return parseCredentials(text)
  }
}

async function readLimited(body: AsyncIterable<unknown> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += (chunk as Buffer).length
    if (size > MAX_ANSWER_BYTES) {
      body.destroy()
      throw new Error(`answer over ${MAX_ANSWER_BYTES} bytes`)
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** `{AccessKeyId, SecretAccessKey, Token, Expiration}`, the container agent's answer. */
export function parseCredentials(text: string): CachedCredentials {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new CredentialError('container credentials endpoint did not answer JSON')
  }
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
  const { AccessKeyId, SecretAccessKey, Token, Expiration } = b
  if (typeof AccessKeyId !== 'string' || !AccessKeyId || typeof SecretAccessKey !== 'string' || !SecretAccessKey) {
    throw new CredentialError('container credentials answer lacks AccessKeyId or SecretAccessKey')
  }
  const credentials: AwsCredentials = { accessKeyId: AccessKeyId, secretAccessKey: SecretAccessKey }
  if (typeof Token === 'string' && Token) credentials.sessionToken = Token
  let expiresAt = Infinity
  if (Expiration !== undefined && Expiration !== null) {
    expiresAt = typeof Expiration === 'string' ? Date.parse(Expiration) : NaN
    if (!Number.isFinite(expiresAt)) throw new CredentialError('container credentials answer has an invalid Expiration')
  }
  return { credentials, expiresAt }
}
