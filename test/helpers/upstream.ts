/** Real HTTP upstreams on 127.0.0.1:0 for the integration tests. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface TestUpstream {
  url: string
  port: number
  server: Server
  close(): Promise<void>
}

export function startUpstream(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  host = '127.0.0.1',
  port = 0,
): Promise<TestUpstream> {
  const server = createServer(handler)
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      const p = (server.address() as AddressInfo).port
      resolve({
        url: `http://${host}:${p}`,
        port: p,
        server,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections()
            server.close(() => r())
          }),
      })
    })
  })
}

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null')
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

export interface GatewayCall {
  path: string
  body: { event: string; request_id?: unknown; device_id: string; data: unknown }
}

/**
 * A service that answers `POST /gateway/handle`: `reply` decides the status
 * and body for each call; every call is recorded.
 */
export async function startService(
  reply: (call: GatewayCall['body']) => { status: number; body: unknown; delayMs?: number; raw?: boolean } | undefined = (call) => ({
    status: 200,
    body: { echo: call.data, event: call.event },
  }),
): Promise<TestUpstream & { calls: GatewayCall[] }> {
  const calls: GatewayCall[] = []
  const up = await startUpstream((req, res) => {
    readJson(req).then((body) => {
      const call = { path: req.url ?? '', body: body as GatewayCall['body'] }
      calls.push(call)
      const r = reply(call.body)
      if (!r) return // never answers: a hung service
      const answer = () => {
        if (!r.raw) return sendJson(res, r.status, r.body)
        res.writeHead(r.status, { 'content-type': 'text/html' })
        res.end(String(r.body))
      }
      if (r.delayMs) setTimeout(answer, r.delayMs)
      else answer()
    }, () => res.destroy())
  })
  return Object.assign(up, { calls })
}
