/**
 * Seed 002's LucidLink stats feed against a real `ws` server on 127.0.0.1:
 * every message shape the backend may send, messages to ignore, a backend
 * that restarts, goes silent or is not there yet, and close().
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocketServer, type ServerOptions, type WebSocket } from 'ws'
import { BackendStats, parseStats, type BackendStatsOptions, type LucidLinkStats } from '../../src/feed/backend-stats.js'
import { silentLog } from '../helpers/log.js'
import { freePort, sleep, waitFor } from '../helpers/ports.js'

interface Backend {
  port: number
  wss: WebSocketServer
  /** Server-side sockets, in connection order. */
  sockets: WebSocket[]
  upgrades: IncomingMessage[]
  close(): Promise<void>
}

/** A backend on `port` (0: any) that runs `onConnection` for each client. */
function startBackend(port = 0, onConnection: (ws: WebSocket) => void = () => {}, options: ServerOptions = {}): Promise<Backend> {
  const server: Server = createServer()
  const wss = new WebSocketServer({ server, ...options })
  const sockets: WebSocket[] = []
  const upgrades: IncomingMessage[] = []
  wss.on('connection', (ws, req) => {
    sockets.push(ws)
    upgrades.push(req)
    onConnection(ws)
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      const backend: Backend = {
        port: (server.address() as AddressInfo).port,
        wss,
        sockets,
        upgrades,
        close: () =>
          new Promise<void>((r) => {
            for (const ws of wss.clients) ws.terminate()
            wss.close()
            server.closeAllConnections()
            server.close(() => r())
          }),
      }
      backends.push(backend)
      resolve(backend)
    })
  })
}

const backends: Backend[] = []
const feeds: BackendStats[] = []

function feed(url: string, options: Partial<BackendStatsOptions> = {}) {
  const stats: LucidLinkStats[] = []
  const f = new BackendStats({ url, log: silentLog, onStats: (s) => stats.push(s), ...options })
  feeds.push(f)
  f.start()
  return { f, stats }
}

function capturingLog() {
  const lines: Array<{ level: number; msg: string; url?: string }> = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as (typeof lines)[number])
      done()
    },
  })
  return { log: pino({ level: 'debug' }, stream), lines }
}

afterEach(async () => {
  await Promise.all(feeds.splice(0).map((f) => f.close()))
  await Promise.all(backends.splice(0).map((b) => b.close()))
})

const T = '2025-08-23T03:00:00.000Z'
const NOW = new Date('2025-01-01T00:00:00.000Z')

describe('parseStats', () => {
  it.each([
    { desc: 'flat throughputMbps', message: { throughputMbps: 125.5, timestamp: T }, stats: { throughputMbps: 125.5, timestamp: T } },
    { desc: 'lucidLink object', message: { lucidLink: { throughputMbps: 130.2 } }, stats: { throughputMbps: 130.2, timestamp: NOW.toISOString() } },
    {
      desc: "the gateway's own lucidlink-stats message",
      message: { type: 'lucidlink-stats', lucidLink: { throughputMbps: 1, timestamp: T } },
      stats: { throughputMbps: 1, timestamp: T },
    },
    { desc: 'data object', message: { data: { throughputMbps: 0 }, timestamp: T }, stats: { throughputMbps: 0, timestamp: T } },
    { desc: 'getMbps', message: { lucidLink: { getMbps: 42 } }, stats: { throughputMbps: 42, timestamp: NOW.toISOString() } },
    { desc: 'mbps in data', message: { data: { mbps: 7.25 } }, stats: { throughputMbps: 7.25, timestamp: NOW.toISOString() } },
    { desc: 'timestamp normalised to ISO', message: { mbps: 3, timestamp: '2025-08-23T05:00:00+02:00' }, stats: { throughputMbps: 3, timestamp: T } },
    { desc: 'invalid timestamp: arrival time', message: { mbps: 3, timestamp: 'yesterday' }, stats: { throughputMbps: 3, timestamp: NOW.toISOString() } },
    { desc: 'a stats type of another spelling', message: { type: 'stats', data: { mbps: 2 } }, stats: { throughputMbps: 2, timestamp: NOW.toISOString() } },
  ])('reads $desc', ({ message, stats }) => {
    expect(parseStats(JSON.stringify(message), NOW)).toEqual(stats)
  })

  it.each([
    { desc: 'bad JSON', text: '{"throughputMbps": 1' },
    { desc: 'not an object', text: '[1,2]' },
    { desc: 'a string number', text: JSON.stringify({ throughputMbps: '12' }) },
    { desc: 'a negative number', text: JSON.stringify({ lucidLink: { throughputMbps: -1 } }) },
    { desc: 'a non-finite number', text: '{"throughputMbps": 1e999}' },
    { desc: 'no throughput field', text: JSON.stringify({ type: 'lucidlink-stats', lucidLink: {} }) },
    { desc: "another message type's mbps", text: JSON.stringify({ type: 'job-progress', data: { mbps: 5 } }) },
    { desc: 'null', text: 'null' },
  ])('ignores $desc', ({ text }) => {
    expect(parseStats(text, NOW)).toBeUndefined()
  })
})

describe('BackendStats', () => {
  it('delivers stats in each shape and ignores the rest', async () => {
    const backend = await startBackend(0, (ws) => {
      ws.send(JSON.stringify({ throughputMbps: 1, timestamp: T }))
      ws.send('not json')
      ws.send(JSON.stringify({ lucidLink: { throughputMbps: 2 } }))
      ws.send(JSON.stringify({ throughputMbps: -3 }))
      ws.send(JSON.stringify({ type: 'lucidlink-stats', lucidLink: { throughputMbps: 3, timestamp: T } }))
      ws.send(Buffer.from(JSON.stringify({ data: { mbps: 4, timestamp: T } }))) // a binary frame
      ws.send(JSON.stringify({ type: 'job-progress', data: { mbps: 99 } }))
      ws.send(JSON.stringify({ data: { getMbps: 5, timestamp: T } }))
    })
    const { f, stats } = feed(`ws://127.0.0.1:${backend.port}/`)
    await waitFor(() => stats.length >= 5, 3_000, 'five stats')
    await sleep(50)
    expect(stats.map((s) => s.throughputMbps)).toEqual([1, 2, 3, 4, 5])
    expect(stats[0]!.timestamp).toBe(T)
    expect(Date.parse(stats[1]!.timestamp)).toBeGreaterThan(Date.now() - 5_000)
    expect(f.connected()).toBe(true)
    expect(f.latest()).toEqual({ throughputMbps: 5, timestamp: T })
  })

  it('reconnects after the backend restarts, and logs each change of state once', async () => {
    const { log, lines } = capturingLog()
    let n = 0
    const onConnection = (ws: WebSocket) => ws.send(JSON.stringify({ throughputMbps: ++n }))
    const first = await startBackend(0, onConnection)
    const port = first.port
    const { f, stats } = feed(`ws://probe:s3cret@127.0.0.1:${port}/stats`, { log })
    await waitFor(() => stats.length === 1, 3_000, 'stats from the first backend')
    expect(first.upgrades[0]!.headers.authorization).toBe(`Basic ${Buffer.from('probe:s3cret').toString('base64')}`)

    await first.close()
    await waitFor(() => !f.connected(), 2_000, 'the disconnect')
    await sleep(1_200) // a few failed attempts while the backend is away
    await startBackend(port, onConnection)
    await waitFor(() => stats.length === 2, 5_000, 'stats from the restarted backend')
    expect(stats.map((s) => s.throughputMbps)).toEqual([1, 2])
    expect(f.connected()).toBe(true)

    const said = lines.filter((l) => l.level >= 30).map((l) => l.msg)
    expect(said).toEqual(['backend stats connected', 'backend stats disconnected; reconnecting', 'backend stats connected'])
    expect(JSON.stringify(lines)).not.toContain('s3cret')
    expect(lines[0]!.url).toBe(`ws://127.0.0.1:${port}/stats`)
  })

  it('connects once a backend that was not there at start comes up', async () => {
    const { log, lines } = capturingLog()
    const port = await freePort()
    const { f, stats } = feed(`ws://127.0.0.1:${port}/`, { log })
    await sleep(800)
    expect(f.connected()).toBe(false)
    await startBackend(port, (ws) => ws.send(JSON.stringify({ mbps: 9 })))
    await waitFor(() => stats.length === 1, 5_000, 'stats')
    expect(lines.filter((l) => l.level >= 30).map((l) => l.msg)).toEqual(['backend stats unreachable; retrying', 'backend stats connected'])
  })

  it('cuts a connection that shows no sign of life and connects again', async () => {
    // autoPong off: the backend neither answers pings nor sends anything.
    const backend = await startBackend(0, () => {}, { autoPong: false })
    feed(`ws://127.0.0.1:${backend.port}/`, { idleTimeoutMs: 300 })
    await waitFor(() => backend.sockets.length === 1, 2_000, 'the first connection')
    const closed = new Promise<number>((r) => backend.sockets[0]!.once('close', (code) => r(code)))
    await waitFor(() => backend.sockets.length === 2, 5_000, 'a second connection')
    expect(await closed).toBe(1006) // terminated, not closed politely
  })

  it('keeps a quiet connection that answers pings', async () => {
    const backend = await startBackend(0)
    const { f } = feed(`ws://127.0.0.1:${backend.port}/`, { idleTimeoutMs: 300 })
    await waitFor(() => f.connected(), 2_000, 'the connection')
    await sleep(1_000)
    expect(backend.sockets).toHaveLength(1)
    expect(f.connected()).toBe(true)
  })

  it('drops a message over maxPayload by closing and reconnecting', async () => {
    let n = 0
    const backend = await startBackend(0, (ws) => ws.send(++n === 1 ? JSON.stringify({ mbps: 1, pad: 'x'.repeat(500) }) : JSON.stringify({ mbps: 2 })))
    const { stats } = feed(`ws://127.0.0.1:${backend.port}/`, { maxPayload: 200 })
    await waitFor(() => stats.length === 1, 5_000, 'stats after reconnecting')
    expect(stats[0]!.throughputMbps).toBe(2)
    expect(backend.sockets).toHaveLength(2)
  })

  it('close() stops reconnecting', async () => {
    const backend = await startBackend(0)
    const port = backend.port
    const { f } = feed(`ws://127.0.0.1:${port}/`)
    await waitFor(() => f.connected(), 2_000, 'the connection')
    await f.close()
    await f.close() // idempotent
    expect(f.connected()).toBe(false)
    await backend.close()
    const again = await startBackend(port)
    await sleep(1_500)
    expect(again.sockets).toHaveLength(0)
  })

  it('close() during the backoff cancels the next attempt', async () => {
    const port = await freePort()
    const { f } = feed(`ws://127.0.0.1:${port}/`)
    await sleep(100)
    await f.close()
    const backend = await startBackend(port)
    await sleep(1_500)
    expect(backend.sockets).toHaveLength(0)
  })

  it('an unusable URL is logged, not thrown', async () => {
    const { log, lines } = capturingLog()
    const { f } = feed('http//nope', { log })
    await sleep(50)
    expect(f.connected()).toBe(false)
    expect(lines.map((l) => [l.level, l.msg])).toEqual([[50, 'backend stats URL is unusable; not connecting']])
  })
})
