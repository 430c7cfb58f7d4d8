// The benchmark's upstream: a plain node:http server answering a small JSON
// body on every path, keep-alive on. Prints its port on stdout.
import { createServer } from 'node:http'

const body = JSON.stringify({ ok: true, service: 'measurement', items: [1, 2, 3], note: 'benchmark' })
const server = createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }))
})
