// The Node floor for http-proxy: node:http in front of an undici Pool, every
// request forwarded with Pool.request and the answer piped back; no routing,
// auth, limits, header rules or deadlines. What any Node proxy costs at least.
// Prints its port on stdout.
import { createServer } from 'node:http'
import { pipeline } from 'node:stream'
import { Pool } from 'undici'

const pool = new Pool(process.env.UPSTREAM, { connections: 128, pipelining: 1 })
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host'])

const server = createServer(async (req, res) => {
  try {
    const headers = {}
    for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v
    const up = await pool.request({ method: req.method, path: req.url, headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req })
    const out = {}
    for (const [k, v] of Object.entries(up.headers)) if (!HOP.has(k)) out[k] = v
    res.writeHead(up.statusCode, out)
    // pipeline, not pipe: a client that leaves mid-answer destroys the upstream
    // body too, so its pool connection is freed (with pipe, each one leaked).
    pipeline(up.body, res, () => {})
  } catch (err) {
    if (res.headersSent) return res.destroy()
    res.writeHead(502, { 'content-type': 'text/plain' })
    res.end(`upstream error: ${err.message}\n`)
  }
})
server.keepAliveTimeout = 65_000
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }))
})
