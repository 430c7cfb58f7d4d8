// The upstream of the ws-events scenario: answers every `POST /gateway/handle`
// (roomgate's event call: `{event, request_id, device_id, data}`) with
// `{"ok":true}` once it has read the body, keep-alive on. Anything else is 404.
// Prints its port on stdout; GET /count says how many calls it answered.
import { createServer } from 'node:http'

const body = Buffer.from(JSON.stringify({ ok: true }))
let calls = 0
const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/gateway/handle') {
    req.resume()
    req.on('end', () => {
      calls++
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length })
      res.end(body)
    })
    return
  }
  req.resume()
  if (req.url === '/count') {
    res.end(JSON.stringify({ calls }))
    return
  }
  res.writeHead(404).end()
})
server.keepAliveTimeout = 60_000
server.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1', backlog: 1024 }, () => {
  console.log(JSON.stringify({ port: server.address().port }))
})
