// The floor of the ws-fanout scenario: a plain `ws` server loop. `POST
// /publish` with a sequence number as its body serialises seed 001's event
// envelope `{"type":"event","event":"tick","data":{"seq":N}}` once, as a
// Buffer, and sends that one frame to every open client, then answers
// `{written, ms}` (ms: the loop). No identity, rooms, limits or pings.
// Prints its port on stdout.
import { createServer } from 'node:http'
import { setImmediate } from 'node:timers'
import { WebSocketServer } from 'ws'

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/publish') {
    let text = ''
    req.setEncoding('utf8')
    req.on('data', (d) => (text += d))
    req.on('end', () => {
      const started = performance.now()
      const frame = Buffer.from(JSON.stringify({ type: 'event', event: 'tick', data: { seq: Number(text) } }))
      let written = 0
      for (const client of wss.clients) {
        if (client.readyState !== 1) continue
        client.send(frame, { binary: false })
        written++
      }
      const ms = performance.now() - started
      // Each send is corked until the next tick: the frames are on the sockets before setImmediate.
      setImmediate(() => res.end(JSON.stringify({ written, ms })))
    })
    return
  }
  req.resume()
  res.writeHead(404).end()
})
server.keepAliveTimeout = 60_000
const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, clientTracking: true, maxPayload: 65_536 })

server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => console.log(JSON.stringify({ port: server.address().port })))
process.once('SIGTERM', () => {
  for (const client of wss.clients) client.terminate()
  server.close(() => process.exit(0))
})
