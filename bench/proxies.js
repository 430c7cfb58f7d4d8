// The proxies the HTTP scenarios compare roomgate with, started beside it in
// front of one upstream: nginx (1 worker, upstream keepalive), haproxy (1
// thread, http-reuse always), @fastify/http-proxy, the `http-proxy` npm package
// (keep-alive agent) and `node-naive` (node:http + an undici Pool, no routing,
// auth or limits: the Node floor). A peer that is not installed or does not
// start is reported as missing, never silently dropped.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, here, notInstalled, startCommand, startProcess, startRoomgate } from './lib.js'

const fill = (template, fields) =>
  readFileSync(template, 'utf8').replace(/\{\{(\w+)\}\}/g, (_, k) => {
    if (!(k in fields)) throw new Error(`${template}: no value for {{${k}}}`)
    return fields[k]
  })

const NODE_PEERS = {
  '@fastify/http-proxy': './servers/fastify-http-proxy.js',
  'http-proxy': './servers/node-http-proxy.js',
  'node-naive': './servers/naive-proxy.js',
}

/**
 * Starts the benchmark's upstream (bench/servers/upstream.js), then roomgate
 * (bench/roomgate.yaml: auth and rate limit on) and the named peers in front
 * of it; `prefix` is a scratch folder for nginx's and haproxy's files,
 * `readyPath` a path every proxy must answer 200 on. Resolves with {bases:
 * name -> base URL (`direct` is the upstream), missing: name -> why, procs
 * (the upstream's included), pids: name -> pid of the Node proxies (roomgate
 * included)}.
 */
export async function startProxies({ prefix, names, readyPath }) {
  const procs = []
  const upstream = await startProcess([here('./servers/upstream.js')], {})
  procs.push(upstream.proc)
  const upstreamHost = `127.0.0.1:${upstream.port}`
  const upstreamUrl = `http://${upstreamHost}`
  const roomgate = await startRoomgate({ file: here('./roomgate.yaml'), env: { MEASUREMENT_URL: upstreamUrl } })
  procs.push(roomgate.proc)
  const bases = { direct: upstreamUrl, roomgate: roomgate.base }
  const pids = { roomgate: roomgate.proc.pid }
  const missing = {}
  const uninstalled = notInstalled()

  const servers = {
    nginx: async () => {
      const port = await freePort()
      const conf = join(prefix, 'nginx.conf')
      writeFileSync(conf, fill(here('./servers/nginx.conf.template'), { PREFIX: prefix, PORT: port, UPSTREAM: upstreamHost }))
      const base = `http://127.0.0.1:${port}`
      const { proc } = await startCommand('nginx', ['-g', 'daemon off;', '-e', 'stderr', '-c', conf, '-p', prefix], { readyUrl: `${base}${readyPath}` })
      return { proc, base }
    },
    haproxy: async () => {
      const port = await freePort()
      const cfg = join(prefix, 'haproxy.cfg')
      writeFileSync(cfg, fill(here('./servers/haproxy.cfg.template'), { PORT: port, UPSTREAM: upstreamHost }))
      const base = `http://127.0.0.1:${port}`
      const { proc } = await startCommand('haproxy', ['-f', cfg, '-db'], { readyUrl: `${base}${readyPath}` })
      return { proc, base }
    },
  }
  for (const name of names) {
    if (uninstalled.has(name)) {
      missing[name] = 'not installed (bench/peers/missing.txt)'
      continue
    }
    try {
      if (servers[name]) {
        const { proc, base } = await servers[name]()
        procs.push(proc)
        bases[name] = base
      } else {
        const { proc, port } = await startProcess([here(NODE_PEERS[name])], { UPSTREAM: upstreamUrl })
        procs.push(proc)
        pids[name] = proc.pid
        bases[name] = `http://127.0.0.1:${port}`
      }
    } catch (err) {
      missing[name] = `did not start: ${err.message}`
    }
  }
  return { bases, missing, procs, pids }
}
