/**
 * The HTTP proxy end to end, against real upstreams on port 0. Streaming is
 * proven, not assumed: the upstream sees the first bytes of an upload before
 * the client has sent the rest, and the client sees the first bytes of a
 * download before the upstream has written the rest.
 */
import { createHash, randomBytes } from 'node:crypto'
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect, createServer as createTcpServer, type AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { closeGates, startGate, type TestGate } from '../helpers/gate.js'
import { freePort, sleep, waitFor } from '../helpers/ports.js'
import { sendJson, startUpstream, type TestUpstream } from '../helpers/upstream.js'

interface Seen {
  method: string
  url: string
  headers: IncomingMessage['headers']
  rawHeaders: string[]
  bytes: number
  sha256: string
}

let upstream: TestUpstream
let seen: Seen[]
let gate: TestGate
/** Per-path behaviour of the upstream, set by each test. */
let special: Record<string, (req: IncomingMessage, res: ServerResponse) => void>

beforeEach(async () => {
  seen = []
  special = {}
  upstream = await startUpstream((req, res) => {
    const path = (req.url ?? '').split('?')[0]!
    const custom = special[path]
    if (custom) return custom(req, res)
    const hash = createHash('sha256')
    let bytes = 0
    req.on('data', (c: Buffer) => {
      hash.update(c)
      bytes += c.length
    })
    req.on('end', () => {
      const s = { method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, bytes, sha256: hash.digest('hex') }
      seen.push(s)
      sendJson(res, 200, { url: s.url, bytes, sha256: s.sha256 }, {
        'x-upstream': 'yes',
        connection: 'keep-alive, x-hop',
        'x-hop': 'secret',
        'set-cookie': 'a=1',
      })
    })
  })
  gate = await startGate({
    services: { measurement: { url: upstream.url }, simulation: { url: `${upstream.url}/base` } },
    httpTimeoutSeconds: 1,
  })
})

afterEach(async () => {
  await closeGates()
  await upstream.close()
})

interface NodeRequestOptions {
  method?: string
  headers?: Record<string, string>
  body?: Buffer[]
  /** Send the body only after the server answered `100 Continue`. */
  waitForContinue?: boolean
}

function nodeRequest(url: string, o: NodeRequestOptions = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: o.method ?? 'GET', headers: o.headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }))
    })
    req.on('error', reject)
    const send = () => {
      for (const part of o.body ?? []) req.write(part)
      req.end()
    }
    if (o.waitForContinue) req.on('continue', send)
    else send()
  })
}

describe('forwarding', () => {
  it('keeps method, path and query, and sets X-Forwarded-* itself', async () => {
    const res = await request(`${gate.url}/v1/measurement/results/7?x=1&y=%20z&x=2`, {
      headers: {
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-host': 'evil.example',
        forwarded: 'for=6.6.6.6',
        'x-custom': 'kept',
        authorization: 'Bearer end-to-end',
      },
    })
    expect(res.statusCode).toBe(200)
    expect(await res.body.json()).toMatchObject({ url: '/v1/measurement/results/7?x=1&y=%20z&x=2', bytes: 0 })
    const h = seen[0]!.headers
    expect(h['x-forwarded-for']).toBe('127.0.0.1')
    expect(h['x-forwarded-proto']).toBe('http')
    expect(h['x-forwarded-host']).toBe(new URL(gate.url).host)
    expect(h.forwarded).toBeUndefined()
    expect(h['x-custom']).toBe('kept')
    expect(h.authorization).toBe('Bearer end-to-end')
    expect(h.host).toBe(new URL(upstream.url).host)
  })

  it("strips a client's X-Roomgate-* headers on a route without auth, however many and however spelt", async () => {
    const res = await nodeRequest(`${gate.url}/v1/measurement/forged`, {
      headers: { 'X-Roomgate-Device-Id': 'someone-else', 'x-roomgate-anything': '1', 'X-ROOMGATE-Role': 'admin', 'x-custom': 'kept' },
    })
    expect(res.status).toBe(200)
    const names = seen[0]!.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase())
    expect(names.filter((n) => n.startsWith('x-roomgate'))).toEqual([])
    expect(seen[0]!.headers['x-custom']).toBe('kept')
  })

  it('believes X-Forwarded-* only from the proxies listed in trustProxy', async () => {
    const spoof = { 'x-forwarded-for': '6.6.6.6, 7.7.7.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example' }
    const trusted = await startGate({ services: { measurement: { url: upstream.url } }, trustProxy: ['127.0.0.1'] })
    await (await request(`${trusted.url}/v1/measurement/t`, { headers: spoof })).body.dump()
    // 127.0.0.1 (the peer) is trusted; 7.7.7.7 is not, so it is the client.
    expect(seen[0]!.headers).toMatchObject({ 'x-forwarded-for': '7.7.7.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example' })

    const elsewhere = await startGate({ services: { measurement: { url: upstream.url } }, trustProxy: ['10.0.0.0/8'] })
    await (await request(`${elsewhere.url}/v1/measurement/t`, { headers: spoof })).body.dump()
    expect(seen[1]!.headers).toMatchObject({ 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http' })
    expect(seen[1]!.headers['x-forwarded-host']).toBe(new URL(elsewhere.url).host)
  })

  it('rate limits the client behind a trusted proxy, not the proxy, and not a spoofed address', async () => {
    const g = await startGate({ services: { measurement: { url: upstream.url } }, trustProxy: ['127.0.0.1'], rateLimit: { rps: 0.01, burst: 2 } })
    const from = (chain: string) => request(`${g.url}/v1/measurement/r`, { headers: { 'x-forwarded-for': chain } })
    const codes = []
    // The same client (9.9.9.9) trying to look like others by prepending addresses.
    for (const chain of ['9.9.9.9', '1.1.1.1, 9.9.9.9', '2.2.2.2, 9.9.9.9']) {
      const res = await from(chain)
      codes.push(res.statusCode)
      await res.body.dump()
    }
    expect(codes).toEqual([200, 200, 429])
    const other = await from('8.8.8.8')
    expect(other.statusCode).toBe(200)
    await other.body.dump()
  })

  it('strips hop-by-hop headers in both directions', async () => {
    // node:http lets a client send any Connection header (undici would not).
    const res = await nodeRequest(`${gate.url}/v1/jobs/1`, {
      headers: { connection: 'keep-alive, x-client-hop', 'x-client-hop': '1', te: 'trailers', 'proxy-authorization': 'Basic x' },
    })
    expect(res.headers['x-upstream']).toBe('yes')
    expect(res.headers['set-cookie']).toEqual(['a=1'])
    expect(res.headers['x-hop']).toBeUndefined()
    const h = seen[0]!.headers
    expect(h['x-client-hop']).toBeUndefined()
    expect(h.te).toBeUndefined()
    expect(h['proxy-authorization']).toBeUndefined()
  })

  it('forwards every method, and the bare prefix too', async () => {
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'] as const) {
      const res = await request(`${gate.url}/v1/simulation/run`, { method, body: method === 'POST' ? '{}' : undefined })
      expect(res.statusCode, method).toBe(200)
      await res.body.dump()
    }
    expect(seen.map((s) => s.method)).toEqual(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'])
    // simulation's URL carries a base path; the request path follows it unchanged.
    expect(seen.map((s) => s.url)).toEqual(Array(7).fill('/base/v1/simulation/run'))
    const bare = await request(`${gate.url}/v1/jobs`)
    expect(await bare.body.json()).toMatchObject({ url: '/v1/jobs' })
  })

  it('refuses targets that would leave the route prefix or pick the upstream host', async () => {
    for (const path of [
      '/v1/measurement/../admin',
      '/v1/measurement/%2e%2e/admin',
      '/v1/jobs/..%2f..%2fadmin',
      '/v1/jobs/..;/admin',
      // Absolute form: the upstream would take the host from the target, not from Host.
      'http://attacker.example/v1/measurement/x',
    ]) {
      const socket = connect(Number(new URL(gate.url).port), '127.0.0.1')
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
      let text = ''
      for await (const chunk of socket) text += String(chunk)
      expect(text, path).toMatch(/^HTTP\/1\.1 400/)
      expect(text).toContain('"code":"bad_request"')
      const why = path.startsWith('/') ? 'Path segments \\".\\" and \\"..\\" are not allowed' : 'Only origin-form request targets (/path?query) are forwarded'
      expect(text, path).toContain(`"error":"${why}"`)
    }
    expect(seen).toHaveLength(0)
  })

  it('refuses transfer codings other than chunked with 501, and fragments with 400', async () => {
    const socket = connect(Number(new URL(gate.url).port), '127.0.0.1')
    socket.write('POST /v1/jobs/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n')
    let text = ''
    for await (const chunk of socket) text += String(chunk)
    expect(text).toMatch(/^HTTP\/1\.1 501/)
    expect(text).toContain('"code":"not_implemented"')
    const frag = connect(Number(new URL(gate.url).port), '127.0.0.1')
    frag.write('GET /v1/measurement/x#top HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
    text = ''
    for await (const chunk of frag) text += String(chunk)
    expect(text).toMatch(/^HTTP\/1\.1 400/)
    expect(text).toContain('"error":"A request target cannot carry a fragment (#)"')
    expect(seen).toHaveLength(0)
  })

  it('closes a connection whose body was never read, so a trickled body cannot hold it', async () => {
    const socket = connect(Number(new URL(gate.url).port), '127.0.0.1')
    socket.write('POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\nx')
    const trickle = setInterval(() => socket.writable && socket.write('x'), 100)
    let text = ''
    await new Promise<void>((resolve) => {
      socket.on('data', (c: Buffer) => (text += c.toString()))
      socket.on('close', () => resolve())
      socket.on('error', () => resolve())
    })
    clearInterval(trickle)
    expect(text).toMatch(/^HTTP\/1\.1 404/)
    expect(text.toLowerCase()).toContain('connection: close')
  })

  it('answers a URL that cannot be decoded in the error format', async () => {
    const res = await request(`${gate.url}/v1/measurement/%`)
    expect(res.statusCode).toBe(400)
    expect(await res.body.json()).toMatchObject({ success: false, code: 'bad_request' })
  })

  it('does not match look-alike paths', async () => {
    const res = await request(`${gate.url}/v1/jobsx/1`)
    expect(res.statusCode).toBe(404)
    expect(await res.body.json()).toMatchObject({ success: false, code: 'not_found' })
  })
})

describe('streaming', () => {
  it('carries an 8 MB upload byte for byte', async () => {
    const body = randomBytes(8 * 1024 * 1024)
    const res = await request(`${gate.url}/v1/jobs/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body,
    })
    expect(await res.body.json()).toMatchObject({
      bytes: body.length,
      sha256: createHash('sha256').update(body).digest('hex'),
    })
  })

  it('carries a chunked multipart upload sent after Expect: 100-continue', async () => {
    const parts = Array.from({ length: 16 }, () => randomBytes(512 * 1024))
    const hash = createHash('sha256')
    for (const p of parts) hash.update(p)
    const res = await nodeRequest(`${gate.url}/v1/jobs/upload`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=x', expect: '100-continue', 'transfer-encoding': 'chunked' },
      body: parts,
      waitForContinue: true,
    })
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toMatchObject({ bytes: 8 * 1024 * 1024, sha256: hash.digest('hex') })
    expect(seen[0]!.headers['content-type']).toBe('multipart/form-data; boundary=x')
    expect(seen[0]!.headers.expect).toBeUndefined()
  })

  it('streams an upload: the upstream reads the start before the client sends the end', async () => {
    let firstChunkAt = 0
    special['/v1/jobs/stream-up'] = (req, res) => {
      let bytes = 0
      req.on('data', (c: Buffer) => {
        if (bytes === 0) firstChunkAt = Date.now()
        bytes += c.length
      })
      req.on('end', () => sendJson(res, 200, { bytes }))
    }
    let lastChunkAt = 0
    async function* slowly() {
      yield randomBytes(64 * 1024)
      await waitFor(() => firstChunkAt > 0, 3_000, 'the upstream to see the first chunk')
      lastChunkAt = Date.now()
      yield randomBytes(64 * 1024)
    }
    const res = await request(`${gate.url}/v1/jobs/stream-up`, { method: 'POST', body: Readable.from(slowly()) })
    expect(await res.body.json()).toEqual({ bytes: 128 * 1024 })
    expect(firstChunkAt).toBeLessThanOrEqual(lastChunkAt)
  })

  it('streams a download: the client reads the start before the upstream writes the end', async () => {
    let clientGotFirst = false
    let sent = 0
    special['/v1/measurement/big'] = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      res.write(randomBytes(256 * 1024))
      sent += 256 * 1024
      waitFor(() => clientGotFirst, 3_000).then(
        () => {
          for (let i = 0; i < 31; i++) res.write(randomBytes(256 * 1024))
          sent += 31 * 256 * 1024
          res.end()
        },
        () => res.destroy(),
      )
    }
    const res = await request(`${gate.url}/v1/measurement/big`)
    let received = 0
    for await (const chunk of res.body) {
      received += (chunk as Buffer).length
      if (!clientGotFirst) {
        expect(sent).toBe(256 * 1024)
        clientGotFirst = true
      }
    }
    expect(received).toBe(8 * 1024 * 1024)
  })

  it('lets an upload take longer than the timeout while it is still sending', async () => {
    async function* trickle() {
      for (let i = 0; i < 6; i++) {
        yield Buffer.alloc(1024, i)
        await sleep(300)
      }
    }
    const started = Date.now()
    const res = await request(`${gate.url}/v1/jobs/slow-upload`, { method: 'POST', body: Readable.from(trickle()) })
    expect(res.statusCode).toBe(200)
    expect(await res.body.json()).toMatchObject({ bytes: 6 * 1024 })
    expect(Date.now() - started).toBeGreaterThan(1_500)
  })

  it('aborts the upstream call when the client goes away', async () => {
    let upstreamClosed = false
    special['/v1/measurement/hang'] = (req, res) => {
      res.writeHead(200)
      res.write('partial')
      res.on('close', () => (upstreamClosed = true))
    }
    const socket = connect(Number(new URL(gate.url).port), '127.0.0.1')
    socket.write('GET /v1/measurement/hang HTTP/1.1\r\nHost: x\r\n\r\n')
    await new Promise((r) => socket.once('data', r))
    socket.destroy()
    await waitFor(() => upstreamClosed, 3_000, 'the upstream request to be aborted')
  })
})

describe('failures', () => {
  it('answers 502 upstream_unavailable when the service is down', async () => {
    const port = await freePort()
    const g = await startGate({ services: { measurement: { url: `http://127.0.0.1:${port}` } } })
    const res = await request(`${g.url}/v1/measurement/x`)
    expect(res.statusCode).toBe(502)
    expect(await res.body.json()).toEqual({ success: false, error: 'Service measurement is unavailable', code: 'upstream_unavailable' })
  })

  it('answers 504 upstream_timeout when the service is slower than HTTP_TIMEOUT_SECONDS', async () => {
    special['/v1/measurement/slow'] = () => undefined // never answers
    const started = Date.now()
    const res = await request(`${gate.url}/v1/measurement/slow`)
    expect(res.statusCode).toBe(504)
    expect(await res.body.json()).toMatchObject({ success: false, code: 'upstream_timeout' })
    expect(Date.now() - started).toBeLessThan(2_500)
  })

  it('cuts the response short when the service dies mid-body', async () => {
    special['/v1/measurement/dies'] = (req, res) => {
      res.writeHead(200, { 'content-length': '1000000' })
      res.write(Buffer.alloc(1000))
      setTimeout(() => req.socket.destroy(), 50)
    }
    const res = await request(`${gate.url}/v1/measurement/dies`)
    expect(res.statusCode).toBe(200)
    await expect(res.body.arrayBuffer()).rejects.toThrow()
  })

  it('passes an early upstream answer to an unfinished upload through, then closes the connection', async () => {
    special['/v1/jobs/early'] = (_req, res) => {
      res.writeHead(413, { 'content-type': 'application/json', connection: 'close' })
      res.end('{"detail":"too big"}')
    }
    const socket = connect(Number(new URL(gate.url).port), '127.0.0.1')
    const total = 50 * 1024 * 1024
    socket.write(`POST /v1/jobs/early HTTP/1.1\r\nHost: a\r\nContent-Length: ${total}\r\n\r\n`)
    const chunk = Buffer.alloc(64 * 1024)
    let sent = 0
    const pump = () => {
      while (sent < total && !socket.destroyed) {
        sent += chunk.length
        if (!socket.write(chunk)) return void socket.once('drain', pump)
      }
    }
    pump()
    socket.on('error', () => undefined)
    let text = ''
    await new Promise<void>((resolve) => {
      socket.on('data', (c: Buffer) => (text += c.toString()))
      socket.on('close', () => resolve())
    })
    expect(text).toMatch(/^HTTP\/1\.1 (413|502)/)
    expect(sent).toBeLessThan(total)
    // Nothing is left holding the connection (or delaying shutdown).
    await waitFor(
      () => new Promise<boolean>((r) => gate.app.server.getConnections((_e, n) => r(n === 0))),
      3_000,
      'the half-read connection to close',
    )
  })

  it('answers, and does not hang, when the upstream sends an odd response head', async () => {
    const raw = createTcpServer((s) => {
      s.once('data', () => s.end('HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'))
    })
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', () => r()))
    const port = (raw.address() as AddressInfo).port
    try {
      const g = await startGate({ services: { measurement: { url: `http://127.0.0.1:${port}` } }, httpTimeoutSeconds: 2 })
      const started = Date.now()
      const res = await request(`${g.url}/v1/measurement/odd`)
      expect([200, 502]).toContain(res.statusCode)
      await res.body.dump()
      expect(Date.now() - started).toBeLessThan(1_500)
    } finally {
      raw.close()
    }
  })

  it('bounds the wait for a free upstream connection by the timeout', async () => {
    special['/v1/measurement/hold'] = () => undefined
    const g = await startGate({ services: { measurement: { url: upstream.url, connections: 1 } }, httpTimeoutSeconds: 0.5 })
    const started = Date.now()
    const [first, queued] = await Promise.all([request(`${g.url}/v1/measurement/hold`), request(`${g.url}/v1/measurement/hold`)])
    expect([first.statusCode, queued.statusCode]).toEqual([504, 504])
    const bodies = [await first.body.json(), await queued.body.json()] as Array<{ error: string }>
    expect(bodies.map((b) => b.error).sort()).toEqual([
      'No connection to service measurement became free in time',
      'Service measurement did not answer in time',
    ])
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it('answers upstream_busy at once when too many requests already wait for a connection', async () => {
    special['/v1/measurement/hold'] = () => undefined
    const g = await startGate({ services: { measurement: { url: upstream.url, connections: 1 } }, httpTimeoutSeconds: 1 })
    const lane = g.server.upstreams.get('measurement').proxy.slots
    // 1 on the wire + 4 waiting (WAITING_PER_CONNECTION): the sixth is refused.
    const held = Array.from({ length: 5 }, () => request(`${g.url}/v1/measurement/hold`).catch(() => undefined))
    await waitFor(() => lane.queued === 4, 2_000, 'four requests waiting')
    const refused = await request(`${g.url}/v1/measurement/hold`)
    expect(refused.statusCode).toBe(503)
    expect(await refused.body.json()).toMatchObject({ code: 'upstream_busy' })
    await Promise.all(held)
    expect([lane.inUse, lane.queued]).toEqual([0, 0])
  })

  it('forgets a waiting request as soon as its client leaves, and does not count it as an upstream failure', async () => {
    special['/v1/measurement/hold'] = () => undefined
    const g = await startGate({ services: { measurement: { url: upstream.url, connections: 1 } }, httpTimeoutSeconds: 5 })
    const lane = g.server.upstreams.get('measurement').proxy.slots
    const first = request(`${g.url}/v1/measurement/hold`).catch(() => undefined)
    await waitFor(() => lane.inUse === 1, 2_000, 'the first request on the wire')
    const leaver = connect(Number(new URL(g.url).port), '127.0.0.1')
    leaver.write('GET /v1/measurement/hold HTTP/1.1\r\nHost: x\r\n\r\n')
    await waitFor(() => lane.queued === 1, 2_000, 'the second request waiting')
    leaver.destroy()
    await waitFor(() => lane.queued === 0, 2_000, 'the waiter to be dropped')
    const metrics = await (await request(`${g.url}/metrics`)).body.text()
    expect(metrics).toContain('roomgate_http_proxy_requests_total{service="measurement",status="0"} 1')
    expect(metrics).not.toContain('status="502"')
    expect(g.logs.some((l) => l.includes('upstream measurement failed'))).toBe(false)
    void first
  })

  it('passes upstream error statuses through unchanged', async () => {
    special['/v1/measurement/missing'] = (_req, res) => sendJson(res, 404, { detail: 'Not Found' })
    const res = await request(`${gate.url}/v1/measurement/missing`)
    expect(res.statusCode).toBe(404)
    expect(await res.body.json()).toEqual({ detail: 'Not Found' })
  })
})

describe('rate limit and auth', () => {
  it('limits each client IP with the token bucket and says when to retry', async () => {
    const g = await startGate({ services: { measurement: { url: upstream.url } }, rateLimit: { rps: 1, burst: 3 } })
    const statuses = []
    for (let i = 0; i < 4; i++) {
      const res = await request(`${g.url}/v1/measurement/x`)
      statuses.push(res.statusCode)
      if (res.statusCode === 429) {
        expect(res.headers['retry-after']).toBe('1')
        expect(await res.body.json()).toMatchObject({ success: false, code: 'rate_limited' })
      } else await res.body.dump()
    }
    expect(statuses).toEqual([200, 200, 200, 429])
    const metrics = await (await request(`${g.url}/metrics`)).body.text()
    expect(metrics).toContain('roomgate_rate_limited_total{scope="http"} 1')
    expect(metrics).toContain('roomgate_http_proxy_requests_total{service="measurement",status="200"} 3')
  })

  it('requires the route credentials when configured', async () => {
    const g = await startGate({
      services: { measurement: { url: upstream.url } },
      auth: { bearerTokens: ['tok-1'], apiKeys: ['key-1'] },
      proxy: {
        routes: [
          { prefix: '/v1/measurement', service: 'measurement', auth: 'bearer' },
          { prefix: '/v1/jobs', service: 'measurement', auth: 'apiKey' },
        ],
      },
    })
    const get = (path: string, headers: Record<string, string> = {}) => request(`${g.url}${path}`, { headers })
    const cases: Array<[string, Record<string, string>, number]> = [
      ['/v1/measurement/a', {}, 401],
      ['/v1/measurement/a', { authorization: 'Bearer wrong' }, 401],
      ['/v1/measurement/a', { authorization: 'Bearer tok-1' }, 200],
      ['/v1/jobs/a', {}, 401],
      ['/v1/jobs/a', { 'x-api-key': 'key-1' }, 200],
    ]
    for (const [path, headers, status] of cases) {
      const res = await get(path, headers)
      expect(res.statusCode, `${path} ${JSON.stringify(headers)}`).toBe(status)
      await res.body.dump()
    }
    expect(seen).toHaveLength(2)
  })

  it('closes the connection instead of reading an upload it refused', async () => {
    const g = await startGate({
      services: { measurement: { url: upstream.url } },
      auth: { bearerTokens: ['tok-1'] },
      proxy: { routes: [{ prefix: '/v1/jobs', service: 'measurement', auth: 'bearer' }] },
    })
    const socket = connect(Number(new URL(g.url).port), '127.0.0.1')
    const total = 200 * 1024 * 1024
    socket.write(`POST /v1/jobs/upload HTTP/1.1\r\nHost: a\r\nContent-Length: ${total}\r\n\r\n`)
    let sent = 0
    const chunk = Buffer.alloc(64 * 1024)
    const pump = () => {
      while (sent < total && !socket.destroyed) {
        sent += chunk.length
        if (!socket.write(chunk)) return void socket.once('drain', pump)
      }
    }
    pump()
    socket.on('error', () => undefined)
    let text = ''
    await new Promise<void>((resolve) => {
      socket.on('data', (c: Buffer) => (text += c.toString()))
      socket.on('close', () => resolve())
    })
    expect(text).toMatch(/^HTTP\/1\.1 401/)
    expect(text.toLowerCase()).toContain('connection: close')
    expect(sent).toBeLessThan(total)
    expect(seen).toHaveLength(0)
  })
})
