// socket.io 4 beside roomgate in the ws-fanout scenario: clients connect with
// the websocket transport only; `POST /publish` with a sequence number as its
// body does `io.emit('tick', {seq})` (socket.io encodes the packet once and
// writes the pre-encoded frame to every client) and answers `{written, ms}`.
// Pings are pushed a day away, as in roomgate's and the ws floor's runs.
// socket.io is loaded from bench/peers (installed by bench/setup.sh).
// Prints its port on stdout.
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import { setImmediate } from 'node:timers'

const require = createRequire(new URL('../peers/package.json', import.meta.url))
const { Server } = require('socket.io')
const DAY_MS = 86_400_000

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/publish') {
    let text = ''
    req.setEncoding('utf8')
    req.on('data', (d) => (text += d))
    req.on('end', () => {
      const started = performance.now()
      io.emit('tick', { seq: Number(text) })
      const ms = performance.now() - started
      setImmediate(() => res.end(JSON.stringify({ written: io.engine.clientsCount, ms })))
    })
    return
  }
  req.resume()
  res.writeHead(404).end()
})
server.keepAliveTimeout = 60_000
const io = new Server(server, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  pingInterval: DAY_MS,
  pingTimeout: DAY_MS,
})

server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => console.log(JSON.stringify({ port: server.address().port })))
process.once('SIGTERM', () => {
  io.close()
  process.exit(0)
})
