// The `http-proxy` npm package (installed by bench/setup.sh into bench/peers)
// forwarding everything to the upstream through a keep-alive agent, as its
// README's "keep-alive" note suggests. Prints its port on stdout.
import { Agent, createServer } from 'node:http'
import { createRequire } from 'node:module'

const require = createRequire(new URL('../peers/package.json', import.meta.url))
const httpProxy = require('http-proxy')

const agent = new Agent({ keepAlive: true, maxSockets: 128 })
const proxy = httpProxy.createProxyServer({ target: process.env.UPSTREAM, agent })
// http-proxy 1.18.1 aborts the upstream call on the request's 'aborted' event,
// which Node (>= 15.5) no longer emits once a request is read in full: a client
// that leaves mid-answer (wrk, at the end of every 1 MiB run) leaves the
// upstream socket held by the agent until all 128 are gone and every request
// waits forever. The fix proposed upstream (http-party/node-http-proxy#1559,
// #1580, unreleased), applied here as users do: destroy it when the client goes.
proxy.on('proxyReq', (proxyReq, _req, res) => {
  res.on('close', () => {
    if (!res.writableFinished) proxyReq.destroy()
  })
})
proxy.on('error', (err, _req, res) => {
  if (res.headersSent) return res.destroy()
  res.writeHead(502, { 'content-type': 'text/plain' })
  res.end(`upstream error: ${err.message}\n`)
})
const server = createServer((req, res) => proxy.web(req, res))
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }))
})
