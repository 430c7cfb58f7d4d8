/**
 * Seed 002's "LucidLink stats": a WebSocket client to the backend
 * (`BACKEND_WS_URL`) that turns its messages into `{throughputMbps, timestamp}`.
 * The backend is someone else's process, so this side assumes nothing: it
 * reconnects forever with capped, jittered backoff, declares a silent
 * connection dead after `idleTimeoutMs`, ignores any message it cannot read,
 * logs only changes of state, and never throws out of a callback.
 */
import { WebSocket, type RawData } from 'ws'
import { safeUrl, type Logger } from '../log.js'

export const DEFAULT_STATS_MAX_PAYLOAD = 1_048_576
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000
export const DEFAULT_MIN_BACKOFF_MS = 500
export const DEFAULT_MAX_BACKOFF_MS = 30_000
/** A connection that lived this long was a good one: the next failure starts the backoff again. */
export const STABLE_CONNECTION_MS = 10_000
/** close() waits this long for the backend to acknowledge before cutting the connection. */
const CLOSE_GRACE_MS = 1_000

export interface LucidLinkStats {
  /** MB/s, as the backend reports it. */
  throughputMbps: number
  /** ISO time: the message's own `timestamp` when it has a valid one, else its arrival. */
  timestamp: string
}

export interface BackendStatsOptions {
  /** ws:// or wss:// URL; user:password in it is sent as Basic auth and never logged. */
  url: string
  log: Logger
  onStats: (stats: LucidLinkStats) => void
  /** @defaultValue 1 MiB: a stats message is a few bytes */
  maxPayload?: number
  /** @defaultValue 10_000 */
  handshakeTimeoutMs?: number
  /** No message and no pong for this long: the connection is dead. @defaultValue 60_000 */
  idleTimeoutMs?: number
  /** @defaultValue 500 */
  minBackoffMs?: number
  /** @defaultValue 30_000 */
  maxBackoffMs?: number
}

const THROUGHPUT_FIELDS = ['throughputMbps', 'getMbps', 'mbps'] as const
/** A message that names its type must name a stats type: another type's `mbps` (a job's, say) is not the link's. */
const STATS_TYPE = /lucidlink|stats|throughput/i
const ISO_DATE = /^\d{4}-\d{2}-\d{2}/

type Tree = Record<string, unknown>
const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v)

function throughputOf(place: Tree): number | undefined {
  for (const field of THROUGHPUT_FIELDS) {
    const v = place[field]
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v
  }
  return undefined
}

function dateOf(v: unknown): string | undefined {
  if (typeof v !== 'string' || !ISO_DATE.test(v)) return undefined
  const ms = Date.parse(v)
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined
}

/**
 * Reads `{throughputMbps}`, `{lucidLink: {throughputMbps}}`,
 * `{type: 'lucidlink-stats', lucidLink: {…}}` or `{data: {throughputMbps}}`
 * (or `getMbps` / `mbps` at those places). Anything else is undefined.
 */
export function parseStats(text: string, now: Date = new Date()): LucidLinkStats | undefined {
  let message: unknown
  try {
    message = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isTree(message)) return undefined
  if (typeof message.type === 'string' && !STATS_TYPE.test(message.type)) return undefined
  for (const place of [message.lucidLink, message.data, message]) {
    if (!isTree(place)) continue
    const throughputMbps = throughputOf(place)
    if (throughputMbps === undefined) continue
    return { throughputMbps, timestamp: dateOf(place.timestamp) ?? dateOf(message.timestamp) ?? now.toISOString() }
  }
  return undefined
}

function textOf(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8')
  return data.toString('utf8')
}

export class BackendStats {
  private ws: WebSocket | undefined
  private state: 'connected' | 'disconnected' | undefined
  private attempt = 0
  private reconnectTimer: NodeJS.Timeout | undefined
  private heartbeat: NodeJS.Timeout | undefined
  private lastSeen = 0
  private last: LucidLinkStats | undefined
  private started = false
  private closed: Promise<void> | undefined
  private readonly safe: string

  constructor(private readonly o: BackendStatsOptions) {
    this.safe = safeUrl(o.url)
  }

  start(): void {
    if (this.started || this.closed) return
    this.started = true
    this.connect()
  }

  connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN
  }

  /** The last stats received, if any. */
  latest(): LucidLinkStats | undefined {
    return this.last && { ...this.last }
  }

  /** Stops reconnecting and closes the connection. Idempotent. */
  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      clearTimeout(this.reconnectTimer)
      clearInterval(this.heartbeat)
      const ws = this.ws
      if (!ws || ws.readyState === WebSocket.CLOSED) return resolve()
      const cut = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS)
      ws.once('close', () => {
        clearTimeout(cut)
        resolve()
      })
      ws.close(1001, 'going away')
    })
    return this.closed
  }

  private connect(): void {
    if (this.closed) return
    const { o } = this
    let ws: WebSocket
    try {
      ws = new WebSocket(o.url, {
        handshakeTimeout: o.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
        maxPayload: o.maxPayload ?? DEFAULT_STATS_MAX_PAYLOAD,
        perMessageDeflate: false,
      })
    } catch (err) {
      // A URL ws cannot use will not get better by retrying.
      o.log.error({ url: this.safe, err: (err as Error).message }, 'backend stats URL is unusable; not connecting')
      return
    }
    this.ws = ws
    let openedAt: number | undefined
    let failure: string | undefined
    const seen = () => (this.lastSeen = performance.now())

    ws.on('open', () => {
      openedAt = seen()
      if (this.state !== 'connected') o.log.info({ url: this.safe }, 'backend stats connected')
      this.state = 'connected'
      this.watch(ws)
    })
    ws.on('message', (data) => {
      seen()
      const stats = parseStats(textOf(data))
      if (stats) this.deliver(stats)
    })
    ws.on('pong', seen)
    ws.on('ping', seen)
    // 'close' always follows; the reason is logged there.
    ws.on('error', (err) => (failure = err.message))
    ws.on('close', (code) => {
      clearInterval(this.heartbeat)
      if (this.ws === ws) this.ws = undefined
      if (this.closed) return
      if (openedAt !== undefined && performance.now() - openedAt > STABLE_CONNECTION_MS) this.attempt = 0
      const fields = { url: this.safe, code, err: failure }
      if (this.state === 'connected') o.log.warn(fields, 'backend stats disconnected; reconnecting')
      else if (this.state === undefined) o.log.warn(fields, 'backend stats unreachable; retrying')
      else o.log.debug(fields, 'backend stats still unreachable')
      this.state = 'disconnected'
      this.scheduleReconnect()
    })
  }

  /** Pings a quiet backend; a connection that shows no sign of life for idleTimeoutMs is cut. */
  private watch(ws: WebSocket): void {
    const idle = this.o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
    clearInterval(this.heartbeat)
    this.heartbeat = setInterval(() => {
      if (performance.now() - this.lastSeen > idle) {
        this.o.log.debug({ url: this.safe }, `backend stats silent for ${idle} ms; reconnecting`)
        ws.terminate()
        return
      }
      try {
        ws.ping()
      } catch {
        // not open any more: 'close' takes it from here
      }
    }, Math.max(10, Math.floor(idle / 3)))
    this.heartbeat.unref()
  }

  private scheduleReconnect(): void {
    const min = this.o.minBackoffMs ?? DEFAULT_MIN_BACKOFF_MS
    const max = this.o.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS
    const base = Math.min(max, min * 2 ** Math.min(this.attempt, 30))
    this.attempt++
    // Half fixed, half random: instances restarted together do not reconnect in step.
    const delay = base / 2 + Math.random() * (base / 2)
    this.reconnectTimer = setTimeout(() => this.connect(), delay)
    this.reconnectTimer.unref()
  }

  private deliver(stats: LucidLinkStats): void {
    this.last = stats
    try {
      this.o.onStats(stats)
    } catch (err) {
      this.o.log.error({ err: (err as Error).message }, 'backend stats listener threw')
    }
  }
}
