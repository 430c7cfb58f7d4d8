// The floor of the ws-events scenario: a plain `ws` server that relays each
// client message to the same upstream as roomgate does (`POST /gateway/handle`
// with `{event, request_id, device_id, data}`, through an undici Pool with as
// many keep-alive connections as roomgate's) and answers with seed 001's
// response envelope. No rate limit, no in-flight cap, no deadline, no metrics:
// what relaying alone costs on this machine. Prints its port on stdout.
import { createServer } from 'node:http'
import { Pool } from 'undici'
import { WebSocketServer } from 'ws'

const pool = new Pool(process.env.UPSTREAM, { connections: Number(process.env.CONNECTIONS ?? 128), pipelining: 1 })
const HEADERS = { 'content-type': 'application/json', accept: 'application/json' }

const server = createServer((req, res) => {
  req.resume()
  res.writeHead(426).end()
})
const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, clientTracking: false, maxPayload: 65_536 })

wss.on('connection', (socket, req) => {
  const deviceId = new URL(req.url, 'http://localhost').searchParams.get('device_id')
  socket.on('message', (raw) => {
    let m
    try {
      m = JSON.parse(raw.toString('utf8'))
    } catch {
      return
    }
    relay(socket, deviceId, m).catch(() => undefined)
  })
})

async function relay(socket, deviceId, m) {
  const requestId = m.request_id ?? null
  const body = JSON.stringify({ event: m.event, request_id: m.request_id, device_id: deviceId, data: m.data ?? {} })
  let frame
  try {
    const res = await pool.request({ method: 'POST', path: '/gateway/handle', headers: HEADERS, body })
    const text = await res.body.text()
    const data = text.length > 0 ? JSON.parse(text) : null
    frame =
      res.statusCode < 300
        ? JSON.stringify({ type: 'response', event: m.event, request_id: requestId, data })
        : JSON.stringify({ type: 'error', event: m.event, request_id: requestId, error: { code: 'upstream_error', message: `status ${res.statusCode}` } })
  } catch (err) {
    frame = JSON.stringify({ type: 'error', event: m.event, request_id: requestId, error: { code: 'upstream_unavailable', message: err.message } })
  }
  if (socket.readyState === 1) socket.send(frame)
}

server.listen({ port: 0, host: '127.0.0.1', backlog: 1024 }, () => console.log(JSON.stringify({ port: server.address().port })))
process.once('SIGTERM', () => {
  server.close()
  pool.destroy().finally(() => process.exit(0))
})
