// A load client of bench/ws-fanout.js and bench/ws-events.js (bench/load-client.js
// does the IPC and the fan-out rounds). It opens WebSocket connections when
// told (`ws` clients, or socket.io-client with the websocket transport only),
// then either:
// - fan-out: once armed with a sequence number, timestamps the arrival of the
//   frame carrying it on every connection. A `ws` connection never parses
//   what arrives: it counts the bytes and searches them for `"seq":N}`.
//   (socket.io-client parses every packet itself.)
// - events: keeps `window` requests in flight on each connection for
//   `seconds`, numbered by request_id, and sends back every round trip's time.
import { createRequire } from 'node:module'
import WebSocket from 'ws'
import { arrived, received, send, serve, targets } from './load-client.js'

const peers = createRequire(new URL('./peers/package.json', import.meta.url))
/** Connections opened by this client, for unique device ids. */
let opened = 0

/** One `ws` connection; resolves once open. */
function openWs(target, url, localAddress) {
  return new Promise((resolve, reject) => {
    const conn = { ws: undefined, at: NaN, open: false }
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, ...(localAddress ? { localAddress } : {}) })
    conn.ws = ws
    ws.once('open', () => {
      conn.open = true
      resolve(conn)
    })
    ws.once('error', (err) => {
      if (!conn.open) reject(err)
    })
    ws.once('unexpected-response', (_req, res) => {
      res.resume()
      reject(new Error(`GET ${url}: ${res.statusCode}`))
      ws.terminate()
    })
    ws.on('close', () => (conn.open = false))
    ws.on('message', (data) => {
      received(data.length)
      if (target.onMessage) target.onMessage(conn, data)
      else if (target.needle !== undefined && Number.isNaN(conn.at) && data.indexOf(target.needle) !== -1) arrived(target, conn)
    })
  })
}

/** One socket.io connection (its own engine: no multiplexing); resolves once connected. */
function openSocketIo(target, url) {
  const { io } = peers('socket.io-client')
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: 20_000 })
    const conn = { socket, at: NaN, open: false }
    socket.once('connect', () => {
      conn.open = true
      resolve(conn)
    })
    socket.once('connect_error', (err) => {
      socket.close()
      reject(err)
    })
    socket.on('disconnect', () => (conn.open = false))
    socket.on('tick', (data) => {
      if (target.id !== undefined && Number.isNaN(conn.at) && data?.seq === target.id) arrived(target, conn)
    })
  })
}

/** One connection of either kind; with deviceIds, each gets a device id unique across the clients. */
function open(target, { kind, url, deviceIds, localAddress }, index) {
  const u = deviceIds ? `${url}${url.includes('?') ? '&' : '?'}device_id=c${index}-${opened++}` : url
  return kind === 'socket.io' ? openSocketIo(target, u) : openWs(target, u, localAddress)
}

/**
 * One events run: every connection keeps `window` requests in flight until
 * `seconds` have passed, then lets the last ones come back. Round trips that
 * end inside the window are counted, with their times (ms).
 */
function runEvents({ name, event, seconds, window, drainMs }) {
  const target = targets.get(name)
  const latencies = []
  let errors = 0
  let firstError
  let late = 0
  let inflight = 0
  let running = true
  const start = performance.now()
  const end = start + seconds * 1000
  const fire = (c) => {
    const id = c.nextId++
    c.sent.set(id, performance.now())
    inflight++
    c.ws.send(`{"event":"${event}","request_id":${id},"data":{"n":${id}}}`)
  }
  let finish
  const drained = new Promise((resolve) => (finish = resolve))
  target.onMessage = (c, data) => {
    const t = performance.now()
    const text = data.toString('latin1')
    const m = /"request_id":(\d+)/.exec(text)
    const sentAt = m ? c.sent.get(Number(m[1])) : undefined
    if (sentAt === undefined) return // not one of this run's answers
    c.sent.delete(Number(m[1]))
    inflight--
    if (!text.startsWith('{"type":"response"')) {
      errors++
      firstError ??= text.slice(0, 300)
    } else if (t <= end) latencies.push(Number((t - sentAt).toFixed(3)))
    else late++
    if (running && c.open) fire(c)
    else if (inflight === 0) finish()
  }
  for (const c of target.conns) {
    c.sent ??= new Map()
    c.nextId ??= 1
    for (let i = 0; i < window; i++) fire(c)
  }
  setTimeout(() => {
    running = false
    if (inflight === 0) finish()
  }, seconds * 1000)
  const timeout = new Promise((resolve) => setTimeout(resolve, seconds * 1000 + drainMs))
  Promise.race([drained, timeout]).then(() => {
    target.onMessage = undefined
    for (const c of target.conns) c.sent.clear()
    send({ type: 'events', name, seconds: (Math.min(performance.now(), end) - start) / 1000, latencies, errors, firstError, late, unanswered: inflight, lost: target.conns.filter((c) => !c.open).length })
  })
}

serve({
  open,
  needle: (seq) => Buffer.from(`"seq":${seq}}`, 'latin1'),
  close() {
    for (const t of targets.values()) {
      for (const c of t.conns) {
        if (c.ws) c.ws.terminate()
        else c.socket.disconnect()
      }
    }
  },
  more: { events: runEvents },
})
