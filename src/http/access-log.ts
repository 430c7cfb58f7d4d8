/**
 * The access log (`log.access: true`): one line per HTTP request in the
 * combined log format (bytes are those sent, head included), written through the logger at info with the line as
 * its message, so it goes where the other logs go, in the same format
 * (pretty or JSON, with `access: true` to filter on). Only the path is
 * logged, never the query (it may carry `?token=`), and no header but
 * Referer and User-Agent. Off by default, and then nothing is registered.
 *
 *   127.0.0.1 - - [03/Dec/2026:16:50:00 +0000] "GET /healthz HTTP/1.1" 200 143 "-" "curl/8.0" 0.4ms
 *
 * The line is written when the response closes, so proxied answers (whose
 * reply roomgate hijacks) are logged like any other; a WebSocket upgrade is
 * logged once, as 101, when it is asked for.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Logger } from '../log.js'

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const two = (n: number) => String(n).padStart(2, '0')

/** `03/Dec/2026:16:50:00 +0000` (always UTC). */
export function clfDate(d: Date): string {
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`
}

/** A header value as the format quotes it: `-` when absent, quotes and control characters escaped. */
function quoted(value: string | string[] | undefined): string {
  if (value === undefined || value === '') return '"-"'
  const text = Array.isArray(value) ? value.join(', ') : value
  // eslint-disable-next-line no-control-regex -- control characters are what this removes
  return `"${text.replace(/["\\]/g, '\\$&').replace(/[\x00-\x1f\x7f]/g, '?')}"`
}

/** The request target without its query: `?…` stands for one. */
function target(url: string): string {
  const q = url.indexOf('?')
  const path = q === -1 ? url : `${url.slice(0, q)}?…`
  // eslint-disable-next-line no-control-regex -- control characters are what this encodes
  return path.replace(/["\\\x00-\x1f\x7f ]/g, (c) => encodeURIComponent(c))
}

export function accessLine(request: FastifyRequest, status: number, bytes: string, ms: number, at: Date): string {
  const raw = request.raw
  return (
    `${request.ip} - - [${clfDate(at)}] "${raw.method} ${target(raw.url ?? '')} HTTP/${raw.httpVersion}" ${status} ${bytes} ` +
    `${quoted(raw.headers.referer)} ${quoted(raw.headers['user-agent'])} ${ms.toFixed(1)}ms`
  )
}

export function registerAccessLog(app: FastifyInstance, log: Logger): void {
  const access = log.child({ access: true })
  app.addHook('onRequest', (request, reply, done) => {
    const at = new Date()
    if (request.headers.upgrade !== undefined) {
      access.info(accessLine(request, 101, '-', 0, at))
      return done()
    }
    const started = performance.now()
    const res = reply.raw
    // Bytes sent, head included (nginx's $bytes_sent): what the socket wrote for this answer.
    const socket = request.raw.socket
    const before = socket.bytesWritten
    res.once('close', () => {
      // 499 as nginx writes it: the client left before an answer began.
      const status = res.headersSent ? res.statusCode : 499
      const line = accessLine(request, status, String(socket.bytesWritten - before), performance.now() - started, at)
      access.info(res.writableFinished ? line : `${line} (cut short)`)
    })
    done()
  })
}
