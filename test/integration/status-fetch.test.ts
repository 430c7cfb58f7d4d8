/**
 * Reading a client's status API against a real fake client on 127.0.0.1:
 * each auth type, the answer shapes, retries and their backoff, deadlines,
 * cancellation, oversized and malformed answers, redirects (never followed),
 * and error messages that never carry a secret.
 */
import { writeFileSync, mkdtempSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Dispatcher } from 'undici'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import type { StatusSourceConfig } from '../../src/config/status-schema.js'
import { authHeaders, forgetSecretFiles, redact, secretsOf, SECRET_FILE_CACHE_MS } from '../../src/status/credentials.js'
import { fetchStatuses, MAX_STATUS_ANSWER_BYTES, StatusFetchError, type FetchStatusesOptions } from '../../src/status/fetch.js'
import { freePort, sleep, waitFor } from '../helpers/ports.js'
import { sendJson, startUpstream, type TestUpstream } from '../helpers/upstream.js'

const BEARER = 's3cr3t-bearer-XYZ'
const API_KEY = 's3cr3t-key-XYZ'
const PASSWORD = 's3cr3t-pass-XYZ'
const QUERY_SECRET = 's3cr3t-query-XYZ'
const BASIC = Buffer.from(`alice:${PASSWORD}`).toString('base64')
const SECRETS = [BEARER, API_KEY, PASSWORD, QUERY_SECRET, BASIC]

const dir = mkdtempSync(join(tmpdir(), 'roomgate-status-fetch-'))
const KEY_FILE = join(dir, 'api-key')
writeFileSync(KEY_FILE, `${API_KEY}\n`)
const ENV = { DEMO_TOKEN: BEARER, BASIC_PW: PASSWORD }

const MAPPING = { available: ['open', 'free'], reserved: ['hold'], sold: ['sold', 'taken'] }
const UNITS = [
  { ref: 'A1', status: 'open' },
  { ref: 'A2', status: 'HOLD' },
  { id: 3, status: 'taken' },
  { unit_id: 'C4', status: 'whatever' },
]
const STATUSES = { A1: 'available', A2: 'reserved', '3': 'sold', C4: 'available' }

interface Call {
  path: string
  headers: IncomingMessage['headers']
}

let client: TestUpstream
let elsewhere: TestUpstream
const calls: Call[] = []
const elsewhereCalls: Call[] = []
/** Per-test state of the huge-body routes. */
let huge = { written: 0, finished: false, closed: false }

function authorized(req: IncomingMessage): boolean {
  switch (req.url?.split('?')[0]) {
    case '/bearer':
      return req.headers.authorization === `Bearer ${BEARER}`
    case '/api-key':
      return req.headers['x-client-key'] === API_KEY && req.headers['x-api-key'] === undefined
    case '/basic':
      return req.headers.authorization === `Basic ${BASIC}`
    default:
      return true
  }
}

function route(req: IncomingMessage, res: ServerResponse): void {
  const path = req.url?.split('?')[0] ?? ''
  calls.push({ path, headers: req.headers })
  if (!authorized(req)) return sendJson(res, 401, { detail: 'bad credentials' })
  const seen = calls.filter((c) => c.path === path).length
  switch (path) {
    case '/bearer':
      return sendJson(res, 200, UNITS)
    case '/api-key':
      return sendJson(res, 200, { units: UNITS })
    case '/basic':
      return sendJson(res, 200, { data: UNITS, total: UNITS.length })
    case '/flaky':
      return seen === 1 ? sendJson(res, 500, { detail: 'boom' }) : sendJson(res, 200, UNITS)
    case '/always-500':
      return sendJson(res, 500, { detail: `boom ${req.headers.authorization ?? ''}` })
    case '/hang':
      return // never answers
    case '/trickle': {
      // Headers at once, then a byte now and then: no idle gap long enough for bodyTimeout.
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('[')
      const t = setInterval(() => res.write(' '), 50)
      res.on('close', () => clearInterval(t))
      return
    }
    case '/bad-json':
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end(`not json, you sent ${req.headers.authorization ?? ''}`)
    case '/no-units':
      return sendJson(res, 200, { detail: 'maintenance' })
    case '/bom':
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end(`\uFEFF${JSON.stringify({ units: UNITS })}`)
    case '/huge':
    case '/huge-declared':
      return sendHuge(res, path === '/huge-declared')
    case '/redirect':
      res.writeHead(302, { location: `${elsewhere.url}/units` })
      return void res.end()
    default:
      return sendJson(res, 404, { detail: 'no such route' })
  }
}

const HUGE_BYTES = 20 * 1024 * 1024
const BLOCK = Buffer.alloc(64 * 1024, 0x20)

/** `[`, 20 MB of spaces, `]`: valid JSON, were it read to the end. */
function sendHuge(res: ServerResponse, declare: boolean): void {
  res.writeHead(200, { 'content-type': 'application/json', ...(declare ? { 'content-length': String(HUGE_BYTES + 2) } : {}) })
  res.on('finish', () => (huge.finished = true))
  res.on('close', () => (huge.closed = true))
  res.write('[')
  const pump = () => {
    while (huge.written < HUGE_BYTES) {
      huge.written += BLOCK.length
      if (!res.write(BLOCK)) return void res.once('drain', pump)
    }
    res.end(']')
  }
  pump()
}

beforeAll(async () => {
  client = await startUpstream(route)
  elsewhere = await startUpstream((req, res) => {
    elsewhereCalls.push({ path: req.url ?? '', headers: req.headers })
    sendJson(res, 200, UNITS)
  })
})
afterAll(async () => {
  await client.close()
  await elsewhere.close()
})
beforeEach(() => {
  calls.length = 0
  elsewhereCalls.length = 0
  huge = { written: 0, finished: false, closed: false }
  forgetSecretFiles()
})

function source(path: string, extra: Partial<StatusSourceConfig> = {}): StatusSourceConfig {
  return {
    slug: 'demo',
    url: `${client.url}${path}`,
    mapping: MAPPING,
    pollIntervalSeconds: 30,
    cacheTtlSeconds: 30,
    timeoutSeconds: 2,
    retryCount: 0,
    active: true,
    ...extra,
  }
}

const bearer = { type: 'bearer', tokenEnv: 'DEMO_TOKEN' } as const

/** Sleeps that return at once and remember how long they were asked to wait. */
function fastSleep(): { sleeps: number[]; sleep: (ms: number) => Promise<void> } {
  const sleeps: number[] = []
  return { sleeps, sleep: (ms) => (sleeps.push(ms), Promise.resolve()) }
}

/** The failure of a read, checked to be a StatusFetchError that carries no secret. */
async function failure(o: Partial<FetchStatusesOptions> & { source: StatusSourceConfig }): Promise<StatusFetchError> {
  const err: unknown = await fetchStatuses({ env: ENV, ...o }).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(StatusFetchError)
  const e = err as StatusFetchError
  for (const secret of SECRETS) expect(e.message).not.toContain(secret)
  expect(e.stack ?? '').not.toContain(BEARER)
  return e
}

describe('fetchStatuses: credentials and answer shapes', () => {
  it('sends a bearer token from the environment and maps a bare list', async () => {
    const got = await fetchStatuses({ source: source('/bearer', { auth: bearer }), env: ENV })
    expect(got).toMatchObject({ statuses: STATUSES, units: 4, skipped: 0, attempts: 1 })
    expect(got.ms).toBeGreaterThanOrEqual(0)
    expect(calls[0]!.headers.accept).toBe('application/json')
  })

  it('sends an API key from a file under a custom header and reads {units}', async () => {
    const auth = { type: 'api_key', header: 'X-Client-Key', keyFile: KEY_FILE } as const
    const got = await fetchStatuses({ source: source('/api-key', { auth }), env: {} })
    expect(got.statuses).toEqual(STATUSES)
    // One trailing newline of the file is not part of the key.
    expect(calls[0]!.headers['x-client-key']).toBe(API_KEY)
  })

  it('sends basic credentials and reads {data}', async () => {
    const auth = { type: 'basic', username: 'alice', passwordEnv: 'BASIC_PW' } as const
    const got = await fetchStatuses({ source: source('/basic', { auth }), env: ENV })
    expect(got.statuses).toEqual(STATUSES)
  })

  it('reads an answer that starts with a byte-order mark', async () => {
    expect((await fetchStatuses({ source: source('/bom'), env: {} })).statuses).toEqual(STATUSES)
  })

  it('fails (and does not retry) on wrong credentials with the answer status', async () => {
    const e = await failure({ source: source('/bearer', { auth: bearer }), env: { DEMO_TOKEN: 'wrong' } })
    expect(e.statusCode).toBe(401)
    expect(e.message).toBe(`status source demo (${client.url}/bearer): answered 401`)
  })

  it('fails before any request when the secret is missing, naming the variable', async () => {
    const e = await failure({ source: source('/bearer', { auth: bearer, retryCount: 3 }), env: {} })
    expect(e.attempts).toBe(0)
    expect(e.message).toContain('DEMO_TOKEN is not set')
    expect(calls).toHaveLength(0)
  })
})

describe('fetchStatuses: retries', () => {
  it('retries a 500 and succeeds on the second attempt after 1 s of backoff', async () => {
    const { sleeps, sleep: fast } = fastSleep()
    const got = await fetchStatuses({ source: source('/flaky', { retryCount: 2 }), env: {}, sleep: fast })
    expect(got.attempts).toBe(2)
    expect(got.statuses).toEqual(STATUSES)
    expect(sleeps).toEqual([1000])
    expect(calls).toHaveLength(2)
  })

  it('gives up after retryCount + 1 attempts, backing off 1 s x attempt', async () => {
    const { sleeps, sleep: fast } = fastSleep()
    const e = await failure({ source: source('/always-500', { auth: bearer, retryCount: 3 }), sleep: fast })
    expect(e.attempts).toBe(4)
    expect(e.statusCode).toBe(500)
    expect(e.cancelled).toBe(false)
    expect(e.message).toBe(`status source demo (${client.url}/always-500): 4 attempts failed, the last: answered 500`)
    expect(sleeps).toEqual([1000, 2000, 3000])
    expect(calls).toHaveLength(4)
  })

  it('waits for real between attempts by default', async () => {
    const started = performance.now()
    const e = await failure({ source: source('/always-500', { retryCount: 1 }) })
    expect(e.attempts).toBe(2)
    expect(performance.now() - started).toBeGreaterThanOrEqual(950)
  })

  it('stops at once when the signal aborts during the backoff', async () => {
    const ac = new AbortController()
    const pending = failure({ source: source('/always-500', { retryCount: 5 }), signal: ac.signal })
    await waitFor(() => calls.length === 1, 2_000, 'the first attempt')
    await sleep(50)
    const aborted = performance.now()
    ac.abort()
    const e = await pending
    expect(performance.now() - aborted).toBeLessThan(200)
    expect(e.cancelled).toBe(true)
    expect(e.attempts).toBe(1)
    expect(e.message).toContain('cancelled')
    await sleep(1_200)
    expect(calls).toHaveLength(1)
  })

  it('stops at once when the signal aborts during a request, and a custom sleep cannot hold it', async () => {
    const ac = new AbortController()
    const neverWakes = () => new Promise<void>(() => undefined)
    const pending = failure({ source: source('/hang', { retryCount: 5, timeoutSeconds: 10 }), signal: ac.signal, sleep: neverWakes })
    await waitFor(() => calls.length === 1, 2_000, 'the request')
    const aborted = performance.now()
    ac.abort()
    const e = await pending
    expect(performance.now() - aborted).toBeLessThan(200)
    expect(e).toMatchObject({ cancelled: true, attempts: 1 })
  })

  it('does not start when the signal is already aborted', async () => {
    const e = await failure({ source: source('/bearer', { auth: bearer }), signal: AbortSignal.abort() })
    expect(e).toMatchObject({ cancelled: true, attempts: 0 })
    expect(calls).toHaveLength(0)
  })
})

describe('fetchStatuses: deadlines', () => {
  it('gives up on an answer that never comes after timeoutSeconds', async () => {
    const started = performance.now()
    const e = await failure({ source: source('/hang', { timeoutSeconds: 0.3 }) })
    const elapsed = performance.now() - started
    expect(e.message).toBe(`status source demo (${client.url}/hang): timed out after 300 ms`)
    expect(elapsed).toBeGreaterThanOrEqual(280)
    expect(elapsed).toBeLessThan(300 + 1_000)
  })

  it('applies the deadline to each attempt', async () => {
    const { sleep: fast } = fastSleep()
    const started = performance.now()
    const e = await failure({ source: source('/hang', { timeoutSeconds: 0.3, retryCount: 1 }), sleep: fast })
    expect(e.attempts).toBe(2)
    expect(performance.now() - started).toBeLessThan(2 * 300 + 1_000)
  })

  it('bounds the whole attempt, body included, even when bytes keep trickling in', async () => {
    const started = performance.now()
    const e = await failure({ source: source('/trickle', { timeoutSeconds: 0.5 }) })
    expect(e.message).toContain('timed out after 500 ms')
    expect(performance.now() - started).toBeLessThan(500 + 1_000)
  })

  it('reports a refused connection', async () => {
    const port = await freePort()
    const e = await failure({ source: source('', { url: `http://127.0.0.1:${port}/units` }) })
    expect(e.message).toBe(`status source demo (http://127.0.0.1:${port}/units): connection refused`)
  })
})

describe('fetchStatuses: answers it refuses', () => {
  it('fails on a body that is not JSON without quoting it (it echoes the token)', async () => {
    const e = await failure({ source: source('/bad-json', { auth: bearer }) })
    expect(e.message).toBe(`status source demo (${client.url}/bad-json): answer is not valid JSON`)
  })

  it('fails on JSON without a unit list rather than showing no units', async () => {
    const e = await failure({ source: source('/no-units') })
    expect(e.message).toContain('answer holds no unit list')
  })

  it('stops reading a 20 MB chunked body at 10 MB', async () => {
    const before = process.memoryUsage().arrayBuffers
    const started = performance.now()
    const e = await failure({ source: source('/huge') })
    expect(e.message).toContain(`answer is larger than ${MAX_STATUS_ANSWER_BYTES} bytes`)
    expect(performance.now() - started).toBeLessThan(5_000)
    await waitFor(() => huge.closed, 2_000, 'the server to see the connection close')
    // The client hung up: the server never got to write the whole body.
    expect(huge.finished).toBe(false)
    expect(huge.written).toBeLessThan(HUGE_BYTES)
    // Loose: the 10 MB read so far and buffers in flight (~21 MB seen), not 20 MB read plus its copy (40+ MB).
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 * 1024 * 1024)
  })

  it('refuses a body declared over 10 MB without reading it', async () => {
    const started = performance.now()
    const e = await failure({ source: source('/huge-declared') })
    expect(e.message).toContain('answer is larger than')
    expect(performance.now() - started).toBeLessThan(2_000)
    await waitFor(() => huge.closed, 2_000, 'the server to see the connection close')
    expect(huge.finished).toBe(false)
  })

  it('does not follow a redirect, so the other host never sees the credentials', async () => {
    const { sleep: fast } = fastSleep()
    const e = await failure({ source: source('/redirect', { auth: bearer, retryCount: 1 }), sleep: fast })
    expect(e.statusCode).toBe(302)
    expect(e.message).toContain('answered 302 (redirects are not followed)')
    expect(calls.map((c) => c.path)).toEqual(['/redirect', '/redirect'])
    await sleep(100)
    expect(elsewhereCalls).toHaveLength(0)
  })
})

describe('fetchStatuses: messages carry no secret', () => {
  it('shows the URL without its query or user info', async () => {
    const url = `http://user:${PASSWORD}@127.0.0.1:${client.port}/always-500?token=${QUERY_SECRET}&x=1`
    const e = await failure({ source: source('', { url }) })
    expect(e.message).toBe(`status source demo (http://127.0.0.1:${client.port}/always-500?…): answered 500`)
  })

  it("scrubs every form of the secret from undici's own words", async () => {
    // A dispatcher whose error quotes the request headers, as a debugging proxy or a bug might.
    class Leaky extends Dispatcher {
      override dispatch(opts: Dispatcher.DispatchOptions): boolean {
        throw new Error(`refused ${JSON.stringify(opts.headers)}`)
      }
    }
    const auth = { type: 'basic', username: 'alice', passwordEnv: 'BASIC_PW' } as const
    const e = await failure({ source: source('/basic', { auth }), dispatcher: new Leaky() })
    expect(e.message).toContain('request failed: refused')
    expect(e.message).toContain('Basic [redacted]')
    expect(calls).toHaveLength(0)
  })

  it('never includes the secret in a missing-file message or a bad-value message', async () => {
    const file = { type: 'bearer', tokenFile: join(dir, 'absent') } as const
    expect((await failure({ source: source('/bearer', { auth: file }) })).message).toContain('cannot be read (ENOENT)')
    const e = await failure({ source: source('/bearer', { auth: bearer }), env: { DEMO_TOKEN: `${BEARER}\nX-Injected: 1` } })
    expect(e.message).toContain('DEMO_TOKEN holds control characters')
  })
})

describe('authHeaders and secretsOf', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('builds each header', () => {
    expect(authHeaders(source('/', { auth: bearer }), ENV)).toEqual({ Authorization: `Bearer ${BEARER}` })
    expect(authHeaders(source('/', { auth: { type: 'api_key', header: 'X-API-Key', keyFile: KEY_FILE } }), {})).toEqual({
      'X-API-Key': API_KEY,
    })
    expect(authHeaders(source('/', { auth: { type: 'basic', username: 'alice', passwordEnv: 'BASIC_PW' } }), ENV)).toEqual({
      Authorization: `Basic ${BASIC}`,
    })
    expect(authHeaders(source('/'), ENV)).toEqual({})
  })

  it('drops exactly one trailing newline of a file', () => {
    const f = join(dir, 'crlf')
    writeFileSync(f, 'tok\r\n')
    expect(authHeaders(source('/', { auth: { type: 'bearer', tokenFile: f } }), {})).toEqual({ Authorization: 'Bearer tok' })
    writeFileSync(f, 'tok\n\n')
    forgetSecretFiles()
    expect(() => authHeaders(source('/', { auth: { type: 'bearer', tokenFile: f } }), {})).toThrow(/holds control characters/)
  })

  it('picks up a rotated file once the cached read is a minute old', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const f = join(dir, 'rotating')
    writeFileSync(f, 'v1\n')
    const s = source('/', { auth: { type: 'bearer', tokenFile: f } })
    expect(authHeaders(s, {}).Authorization).toBe('Bearer v1')
    writeFileSync(f, 'v2\n')
    vi.setSystemTime(Date.now() + SECRET_FILE_CACHE_MS - 1_000)
    expect(authHeaders(s, {}).Authorization).toBe('Bearer v1')
    vi.setSystemTime(Date.now() + 1_001)
    expect(authHeaders(s, {}).Authorization).toBe('Bearer v2')
    expect(secretsOf(s, {})).toEqual(['v2'])
  })

  it('lists every form of the secret, and none when it cannot be had', () => {
    expect(secretsOf(source('/', { auth: bearer }), ENV)).toEqual([BEARER])
    expect(secretsOf(source('/', { auth: { type: 'basic', username: 'alice', passwordEnv: 'BASIC_PW' } }), ENV)).toEqual([
      PASSWORD,
      BASIC,
    ])
    expect(secretsOf(source('/', { auth: bearer }), {})).toEqual([])
    expect(secretsOf(source('/'), ENV)).toEqual([])
  })

  it('redacts secrets and their URL-encoded forms, longest first', () => {
    expect(redact('a=s3cr3t/1 b=s3cr3t%2F1 c=s3cr3t', ['s3cr3t', 's3cr3t/1'])).toBe('a=[redacted] b=[redacted] c=[redacted]')
    expect(redact('nothing here', ['', 'x-y'])).toBe('nothing here')
  })
})
