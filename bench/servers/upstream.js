// The benchmark's upstream: a plain node:http server, keep-alive on. Every path
// answers a small JSON body once it has read the request body (so a POST's
// upload is consumed in full), except `.../blob-1m`, which answers a 1 MiB
// buffer allocated once at start (the proxies' streaming is measured, not the
// upstream's allocation). Prints its port on stdout.
import { createServer } from 'node:http'

const body = JSON.stringify({ ok: true, service: 'measurement', items: [1, 2, 3], note: 'benchmark' })
const blob = Buffer.alloc(1024 * 1024, 'roomgate benchmark payload\n')
const server = createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    if (req.url.startsWith('/v1/measurement/blob-1m')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.length })
      res.end(blob)
      return
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }))
})
