/**
 * Demo backends for `npm start`: the lobby, measurement and simulation
 * services of seed 001 on one local port, each under its own path. They answer
 * `/gateway/handle` events, echo proxied requests (with the body's size and
 * SHA-256), and on `lobby.join` push `lobby.updated` back through roomgate's
 * internal broadcast. The same server plays seed 000's recording gateways
 * (`/gw/start`, `/gw/stop`, `/gw/progress`) on the other loopback addresses,
 * so every capability can be tried by hand.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { request } from 'undici'

/** The demo client API's token (config/demo-secrets/status-token holds the same). */
export const DEMO_STATUS_TOKEN = 'demo-status-token'

export const DEMO_SERVICES_PORT = 8091

interface DemoOptions {
  port: number
  /** Where roomgate listens, for the internal broadcast (known once it listens: the services start first). */
  roomgateUrl: () => string
  internalToken: string
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

async function readBody(req: IncomingMessage): Promise<{ bytes: number; sha256: string; text: string }> {
  const hash = createHash('sha256')
  let bytes = 0
  const head: Buffer[] = []
  for await (const chunk of req) {
    const b = chunk as Buffer
    hash.update(b)
    bytes += b.length
    if (bytes <= 65_536) head.push(b)
  }
  return { bytes, sha256: hash.digest('hex'), text: Buffer.concat(head).toString('utf8') }
}

/** A demo recording gateway: a room records from start until stop; a stopped one reports `down` after a few seconds. */
class DemoRecorder {
  private readonly rooms = new Map<string, { started: number; stopped?: number }>()

  handle(path: string, room: string): unknown {
    if (path === '/gw/start') this.rooms.set(room, { started: Date.now() })
    if (path === '/gw/stop') {
      const r = this.rooms.get(room)
      if (r) r.stopped = Date.now()
    }
    const r = this.rooms.get(room)
    if (path !== '/gw/progress') return { ok: true }
    if (!r) return { gw_state: 'down', recording_duration: '', transcript_progress: '' }
    const end = r.stopped ?? Date.now()
    const seconds = Math.floor((end - r.started) / 1000)
    const hms = new Date(seconds * 1000).toISOString().slice(11, 19)
    const down = r.stopped !== undefined && Date.now() - r.stopped > 8_000
    if (down) this.rooms.delete(room)
    return {
      gw_state: down ? 'down' : 'up',
      recording_duration: hms,
      transcript_progress: `${Math.min(100, Math.floor(seconds / 6))}%`,
    }
  }
}

export function startDemoServices(options: DemoOptions): Promise<Server> {
  const recorder = new DemoRecorder()
  const broadcast = (event: string, data: unknown) =>
    request(`${options.roomgateUrl()}/internal/broadcast`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-internal-token': options.internalToken },
      body: JSON.stringify({ event, data, targets: { all: true } }),
    }).then((r) => r.body.dump())

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://demo')
    if (url.pathname.startsWith('/gw/')) {
      req.resume()
      return send(res, 200, recorder.handle(url.pathname, url.searchParams.get('room') ?? ''))
    }
    // A client's status API for the status proxy: six units, one changing every 10 s.
    if (url.pathname === '/client-api/units') {
      req.resume()
      if (req.headers.authorization !== `Bearer ${DEMO_STATUS_TOKEN}`) return send(res, 401, { error: 'unauthorized' })
      return send(res, 200, { units: demoUnits(Math.floor(Date.now() / 10_000)) })
    }
    // A stand-in S3 for the demo's health check: HeadBucket on /s3/{bucket} answers 200.
    if (url.pathname.startsWith('/s3/')) {
      req.resume()
      res.writeHead(200, { 'x-amz-bucket-region': 'us-east-1' })
      return res.end()
    }
    const [, service = '', ...rest] = url.pathname.split('/')
    const path = `/${rest.join('/')}`
    readBody(req).then(
      (body) => {
        if (path === '/gateway/handle' && req.method === 'POST') {
          const msg = JSON.parse(body.text || '{}') as { event?: string; device_id?: string; data?: unknown }
          if (msg.event === 'lobby.create') {
            return send(res, 200, { lobby_id: randomBytes(4).toString('hex'), code: 'ABC123' })
          }
          if (msg.event === 'lobby.join') {
            broadcast('lobby.updated', { type: 'participant_joined', device_id: msg.device_id }).catch(() => undefined)
            return send(res, 200, { joined: true })
          }
          if (msg.event?.endsWith('.fail')) {
            return send(res, 422, { code: 'demo_failure', message: `${service} refused ${msg.event}` })
          }
          return send(res, 200, { service, event: msg.event, device_id: msg.device_id, echo: msg.data })
        }
        return send(res, 200, {
          service,
          method: req.method,
          path,
          query: url.search,
          forwarded: {
            for: req.headers['x-forwarded-for'],
            proto: req.headers['x-forwarded-proto'],
            host: req.headers['x-forwarded-host'],
          },
          body: { bytes: body.bytes, sha256: body.sha256 },
        })
      },
      () => res.destroy(),
    )
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, '127.0.0.1', () => resolve(server))
  })
}

const UNIT_STATUSES = ['Open', 'HOLD', 'sold']

/** The demo units at a 10 s tick: at each tick one unit (tick mod 6) moves to its next status. */
export function demoUnits(tick: number): Array<{ ref: string; status: string }> {
  return Array.from({ length: 6 }, (_, i) => {
    const moves = Math.floor((tick - i + 6) / 6)
    return { ref: `A-10${i + 1}`, status: UNIT_STATUSES[(((i + moves) % 3) + 3) % 3]! }
  })
}
