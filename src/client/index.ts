/**
 * roomgate's client for devices (browsers, and Node ≥ 20 with a WebSocket
 * from `ws`): connects, identifies (device id or token, refreshed before it
 * expires), reconnects with backoff, rejoins its rooms, recovers missed
 * events so the application sees each once and in order, and maps
 * request/response. One file with no imports: roomgate serves it as
 * `GET /client.js`.
 */

export type ClientState = 'connecting' | 'connected' | 'reconnecting' | 'closed'

/** What the client needs of a WebSocket: the browser's API (which `ws` also has). */
export interface SocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  onclose: ((ev: { code?: number; reason?: string }) => void) | null
  onerror: ((ev: unknown) => void) | null
}
export type SocketConstructor = new (url: string) => SocketLike

export interface RoomgateClientOptions {
  /** `wss://host/ws` */
  url: string
  /** A claimed device id (roomgate without `auth.devices.required`). */
  deviceId?: string
  /** A device token, or a function giving one: called on every connect and before the token expires. */
  token?: string | (() => string | Promise<string>)
  /** Default `globalThis.WebSocket`; in Node < 22 pass `WebSocket` from `ws`. */
  WebSocket?: SocketConstructor
  /** Reconnect delays: exponential from min to max, with jitter. */
  reconnect?: { minDelayMs?: number; maxDelayMs?: number }
  /** A request not answered within this rejects with `timeout`. */
  requestTimeoutMs?: number
  /** How often the client checks the connection is alive (a `ping` answered by roomgate). */
  heartbeatMs?: number
  /** Requests that may wait while reconnecting; past it they reject with `queue_full`. */
  maxQueued?: number
}

export interface EventMeta {
  /** `device:<id>`, `room:<name>` or `all`, for a broadcast with history. */
  stream?: string
  offset?: number
}

export class RoomgateClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'RoomgateClientError'
  }
}

interface Frame {
  type?: string
  event?: string
  request_id?: string | number | null
  data?: unknown
  error?: { code?: string; message?: string }
  stream?: string
  offset?: number
}

interface Pending {
  resolve: (data: unknown) => void
  reject: (err: RoomgateClientError) => void
  timer: ReturnType<typeof setTimeout>
}

interface Queued {
  event: string
  data: unknown
  pending: Pending
  id: string
}

interface Position {
  epoch: string
  offset: number
}

type EventHandler = (data: unknown, meta: EventMeta) => void

const OPEN = 1

export class RoomgateClient {
  private readonly o: Required<Omit<RoomgateClientOptions, 'deviceId' | 'token' | 'WebSocket' | 'reconnect'>> & {
    minDelayMs: number
    maxDelayMs: number
  }
  private readonly Socket: SocketConstructor
  private socket: SocketLike | undefined
  private state: ClientState = 'closed'
  private closedByUser = false
  private attempt = 0
  private seq = 0
  private readonly pending = new Map<string, Pending>()
  private readonly queued: Queued[] = []
  private readonly handlers = new Map<string, Set<EventHandler>>()
  private readonly stateListeners = new Set<(s: ClientState) => void>()
  private readonly resyncListeners = new Set<(stream: string) => void>()
  /** Rooms to rejoin after a reconnect: room → user id. */
  private readonly rooms = new Map<string, string | undefined>()
  /** The last position of each stream the application has seen. */
  private readonly positions = new Map<string, Position>()
  /** Events that came while a recovery runs: delivered once it answers. */
  private held: Frame[] | undefined
  private timers: Array<ReturnType<typeof setTimeout>> = []
  private ready: { resolve: () => void; reject: (err: Error) => void } | undefined

  constructor(private readonly options: RoomgateClientOptions) {
    const Socket = options.WebSocket ?? (globalThis as { WebSocket?: SocketConstructor }).WebSocket
    if (!Socket) throw new RoomgateClientError('no_websocket', 'No WebSocket: pass one (e.g. from the ws package) as options.WebSocket')
    if (options.deviceId === undefined && options.token === undefined) {
      throw new RoomgateClientError('no_identity', 'Give a deviceId or a token')
    }
    this.Socket = Socket
    this.o = {
      url: options.url,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      heartbeatMs: options.heartbeatMs ?? 20_000,
      maxQueued: options.maxQueued ?? 100,
      minDelayMs: options.reconnect?.minDelayMs ?? 250,
      maxDelayMs: options.reconnect?.maxDelayMs ?? 10_000,
    }
  }

  /** Connects (and identifies, rejoins, recovers); resolves once connected the first time. */
  connect(): Promise<void> {
    this.closedByUser = false
    return new Promise((resolve, reject) => {
      this.ready = { resolve, reject }
      this.open('connecting')
    })
  }

  /** Sends an event and resolves with its response's data; rejects with a RoomgateClientError. */
  request<T = unknown>(event: string, data: unknown = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.state === 'closed') {
        reject(new RoomgateClientError('closed', 'The client is closed'))
        return
      }
      const id = this.nextId()
      const pending: Pending = {
        resolve: resolve as (d: unknown) => void,
        reject,
        timer: setTimeout(() => this.settle(id, new RoomgateClientError('timeout', `No answer to ${event} in time`)), this.o.requestTimeoutMs),
      }
      if (this.state === 'connected') {
        this.pending.set(id, pending)
        this.sendFrame({ event, request_id: id, data })
        return
      }
      if (this.queued.length >= this.o.maxQueued) {
        clearTimeout(pending.timer)
        reject(new RoomgateClientError('queue_full', 'Too many requests waiting for the connection'))
        return
      }
      this.queued.push({ event, data, pending, id })
      this.pending.set(id, pending)
    })
  }

  /** Calls `handler` for every `event` pushed to this device; returns the unsubscribe function. */
  onEvent(event: string, handler: EventHandler): () => void {
    let set = this.handlers.get(event)
    if (!set) this.handlers.set(event, (set = new Set()))
    set.add(handler)
    return () => set.delete(handler)
  }

  onState(listener: (s: ClientState) => void): () => void {
    this.stateListeners.add(listener)
    return () => this.stateListeners.delete(listener)
  }

  /** Called with a stream whose missed events could not be recovered: reload its state from your backend. */
  onResync(listener: (stream: string) => void): () => void {
    this.resyncListeners.add(listener)
    return () => this.resyncListeners.delete(listener)
  }

  /** Joins a room (and rejoins it after every reconnect). */
  async join(room: string, userId?: string): Promise<unknown> {
    const answer = await this.request('room.join', userId === undefined ? { room } : { room, user_id: userId })
    this.rooms.set(room, userId)
    // The room's stream position, so a reconnect can recover it.
    await this.request<{ streams?: Record<string, Position> }>('recover', {}).then((a) => this.learn(a.streams ?? {}), () => undefined)
    return answer
  }

  /** Positions from a `recover` without `since`: fills in what is not known (or whose epoch is not). */
  private learn(streams: Record<string, Position>): void {
    for (const [stream, p] of Object.entries(streams)) {
      const known = this.positions.get(stream)
      if (!known) this.positions.set(stream, { epoch: p.epoch, offset: p.offset })
      else if (known.epoch === '') this.positions.set(stream, { epoch: p.epoch, offset: Math.max(known.offset, p.offset) })
    }
  }

  async leave(room: string): Promise<unknown> {
    this.rooms.delete(room)
    this.positions.delete(`room:${room}`)
    return this.request('room.leave', { room })
  }

  get currentState(): ClientState {
    return this.state
  }

  close(): void {
    this.closedByUser = true
    this.clearTimers()
    this.setState('closed')
    this.failAll('closed', 'The client was closed')
    this.socket?.close(1000, 'client closed')
    this.socket = undefined
  }

  // ---- connection ----

  private open(state: 'connecting' | 'reconnecting'): void {
    this.setState(state)
    const query = this.options.token === undefined ? `?device_id=${encodeURIComponent(this.options.deviceId!)}` : ''
    let socket: SocketLike
    try {
      socket = new this.Socket(this.o.url + query)
    } catch (err) {
      this.lost(err instanceof Error ? err.message : String(err))
      return
    }
    this.socket = socket
    socket.onopen = () => void this.start(socket)
    socket.onmessage = (ev) => {
      if (this.socket === socket) this.receive(String(ev.data))
    }
    socket.onerror = () => undefined
    socket.onclose = (ev) => {
      if (this.socket === socket) this.lost(`closed (${ev.code ?? 'no code'})`)
    }
  }

  /** Identifies, rejoins the rooms and recovers; then flushes what waited. */
  private async start(socket: SocketLike): Promise<void> {
    try {
      this.held = []
      if (this.options.token !== undefined) {
        const who = await this.call<{ expires_at?: string }>('identify', { token: await this.tokenValue() })
        this.scheduleRefresh(who.expires_at)
      }
      await Promise.all([...this.rooms].map(([room, user]) => this.call('room.join', user === undefined ? { room } : { room, user_id: user })))
      await this.recover()
      if (this.socket !== socket) return
      this.attempt = 0
      this.setState('connected')
      this.heartbeat(socket)
      for (const q of this.queued.splice(0)) {
        if (this.pending.has(q.id)) this.sendFrame({ event: q.event, request_id: q.id, data: q.data })
      }
      this.ready?.resolve()
      this.ready = undefined
    } catch (err) {
      if (this.socket !== socket) return
      const e = err instanceof RoomgateClientError ? err : new RoomgateClientError('connect_failed', String(err))
      // The first connect() says why; the client goes on trying (a token function may give a good one next time).
      this.ready?.reject(e)
      this.ready = undefined
      socket.close(4000, e.code)
      this.lost(e.message)
    }
  }

  private lost(why: string): void {
    this.socket = undefined
    this.held = undefined
    this.clearTimers()
    for (const [id, p] of this.pending) {
      if (this.queued.some((q) => q.id === id)) continue
      this.pending.delete(id)
      clearTimeout(p.timer)
      p.reject(new RoomgateClientError('disconnected', `The connection dropped before the answer (${why})`))
    }
    if (this.closedByUser) return
    const delay = Math.min(this.o.maxDelayMs, this.o.minDelayMs * 2 ** this.attempt)
    this.attempt++
    this.setState('reconnecting')
    this.later(() => this.open('reconnecting'), delay / 2 + Math.random() * (delay / 2))
  }

  /** Asks for what each known stream missed; delivers it and what was held, each once and in order per stream. */
  private async recover(): Promise<void> {
    // A stream whose epoch is not known (its position could not be read) is asked anyway: roomgate
    // answers recovered:false for it, so onResync says so instead of its misses going unnoticed.
    const since = Object.fromEntries([...this.positions].map(([s, p]) => [s, p.epoch === '' ? { epoch: '?', offset: p.offset } : p]))
    const answer = await this.call<{ streams: Record<string, Position & { recovered?: boolean }> }>('recover', { since })
    const held = this.held ?? []
    this.held = undefined
    const streams = answer.streams ?? {}
    for (const [stream, p] of Object.entries(streams)) {
      if (p.recovered === false) {
        this.positions.set(stream, { epoch: p.epoch, offset: p.offset })
        for (const l of this.resyncListeners) l(stream)
      }
    }
    // A stream with no position yet (the first connect): what reached this connection before the answer is
    // new to the application, even at or below the answered position; start it just before the first of them.
    const fresh = new Map<string, number>()
    for (const f of held) {
      if (f.stream === undefined || f.offset === undefined || this.positions.has(f.stream) || !streams[f.stream]) continue
      fresh.set(f.stream, Math.min(fresh.get(f.stream) ?? f.offset, f.offset))
    }
    for (const [stream, first] of fresh) this.positions.set(stream, { epoch: streams[stream]!.epoch, offset: first - 1 })
    this.learn(streams)
    // Replayed events may follow live ones that came first: per stream, in offset order.
    const byStream = new Map<string, Frame[]>()
    for (const f of held) if (f.stream !== undefined) (byStream.get(f.stream) ?? byStream.set(f.stream, []).get(f.stream)!).push(f)
    for (const list of byStream.values()) list.sort((a, b) => (a.offset ?? 0) - (b.offset ?? 0))
    for (const f of held) this.deliver(f.stream === undefined ? f : byStream.get(f.stream)!.shift()!, true)
    for (const stream of fresh.keys()) {
      const p = this.positions.get(stream)!
      this.positions.set(stream, { epoch: p.epoch, offset: Math.max(p.offset, streams[stream]!.offset) })
    }
  }

  // ---- messages ----

  private receive(text: string): void {
    let f: Frame
    try {
      f = JSON.parse(text) as Frame
    } catch {
      return
    }
    if ((f.type === 'response' || f.type === 'error') && f.request_id !== null && f.request_id !== undefined) {
      const id = String(f.request_id)
      if (f.type === 'response') this.settle(id, undefined, f.data)
      else this.settle(id, new RoomgateClientError(f.error?.code ?? 'error', f.error?.message ?? 'error'))
      return
    }
    if (f.type !== 'event') return
    if (this.held && f.stream !== undefined) {
      this.held.push(f)
      return
    }
    this.deliver(f, false)
  }

  private deliver(f: Frame, replay: boolean): void {
    if (f.stream !== undefined && f.offset !== undefined) {
      const p = this.positions.get(f.stream)
      if (p && p.epoch !== '' && !replay && f.offset !== p.offset + 1 && this.state === 'connected') {
        // Live and not the next one: events the server could not fill in, a duplicate, or a stream that
        // started a new epoch. A recover from the last position tells which (and replays or resyncs).
        this.held = [f]
        void this.recover().catch(() => this.socket?.close(4001, 'recover failed'))
        return
      }
      if (p && f.offset <= p.offset) return // seen already
      this.positions.set(f.stream, { epoch: p?.epoch ?? '', offset: f.offset })
    }
    const meta: EventMeta = f.stream === undefined ? {} : { stream: f.stream, offset: f.offset }
    for (const h of this.handlers.get(f.event ?? '') ?? []) {
      try {
        h(f.data, meta)
      } catch (err) {
        setTimeout(() => {
          throw err
        })
      }
    }
  }

  /** A request on the current socket, even before `connected` (identify, rejoin, recover). */
  private call<T>(event: string, data: unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId()
      this.pending.set(id, {
        resolve: resolve as (d: unknown) => void,
        reject,
        timer: setTimeout(() => this.settle(id, new RoomgateClientError('timeout', `No answer to ${event} in time`)), this.o.requestTimeoutMs),
      })
      this.sendFrame({ event, request_id: id, data })
    })
  }

  private settle(id: string, err: RoomgateClientError | undefined, data?: unknown): void {
    const p = this.pending.get(id)
    if (!p) return
    this.pending.delete(id)
    clearTimeout(p.timer)
    const q = this.queued.findIndex((x) => x.id === id)
    if (q >= 0) this.queued.splice(q, 1)
    if (err) p.reject(err)
    else p.resolve(data)
  }

  private sendFrame(frame: object): void {
    if (this.socket?.readyState === OPEN) this.socket.send(JSON.stringify(frame))
  }

  private failAll(code: string, message: string): void {
    for (const id of [...this.pending.keys()]) this.settle(id, new RoomgateClientError(code, message))
    this.queued.length = 0
    this.ready?.reject(new RoomgateClientError(code, message))
    this.ready = undefined
  }

  // ---- timers ----

  private heartbeat(socket: SocketLike): void {
    this.later(() => {
      if (this.socket !== socket) return
      this.call('ping', {}).then(
        () => this.heartbeat(socket),
        () => {
          // No answer: the connection is dead even if no close came.
          if (this.socket === socket) {
            socket.close(4002, 'heartbeat')
            this.lost('no answer to the heartbeat')
          }
        },
      )
    }, this.o.heartbeatMs)
  }

  /** Refreshes the token at three quarters of its remaining life. */
  private scheduleRefresh(expiresAt: string | undefined): void {
    if (expiresAt === undefined || typeof this.options.token !== 'function') return
    const left = Date.parse(expiresAt) - Date.now()
    if (!(left > 0)) return
    const socket = this.socket
    this.later(async () => {
      if (this.socket !== socket) return
      try {
        const answer = await this.call<{ expires_at?: string }>('refresh', { token: await this.tokenValue() })
        this.scheduleRefresh(answer.expires_at)
      } catch {
        // Try again shortly; if the token runs out meanwhile, roomgate closes and we reconnect with a new one.
        this.later(() => this.scheduleRefresh(new Date(Date.now() + 4_000).toISOString()), 1_000)
      }
    }, Math.max(500, left * 0.75))
  }

  private async tokenValue(): Promise<string> {
    const t = this.options.token
    return typeof t === 'function' ? await t() : t!
  }

  private later(fn: () => void | Promise<void>, ms: number): void {
    const timer = setTimeout(() => {
      this.timers = this.timers.filter((t) => t !== timer)
      void fn()
    }, ms)
    this.timers.push(timer)
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t)
    this.timers = []
  }

  private setState(s: ClientState): void {
    if (this.state === s) return
    this.state = s
    for (const l of this.stateListeners) l(s)
  }

  private nextId(): string {
    return `c${++this.seq}`
  }
}
