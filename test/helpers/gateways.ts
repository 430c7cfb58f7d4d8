/**
 * Fake recording gateways (seed 000's nodes) on distinct loopback addresses
 * sharing one port, as real gateways would share theirs: 127.0.0.2:P,
 * 127.0.0.3:P, … Each answers POST /start, POST /stop and GET /progress from
 * state a test controls, and records every call.
 */
import { createServer, type Server } from 'node:http'
import { freePort } from './ports.js'

export interface GatewayState {
  gwState: 'up' | 'down'
  duration: string
  progress: string
  /** Answer start/stop with 500. */
  failCalls: boolean
  /** Wait this long before answering start/stop (the answer is the state when the call came). */
  delayMs?: number
}

export interface Call {
  node: string
  method: string
  path: string
  room: string | null
}

export class FakeGateways {
  readonly calls: Call[] = []
  readonly state = new Map<string, GatewayState>()
  private readonly servers = new Map<string, Server>()
  port = 0

  constructor(readonly nodes: string[]) {}

  async start(): Promise<this> {
    for (let attempt = 0; attempt < 20; attempt++) {
      this.port = await freePort(this.nodes[0])
      try {
        for (const node of this.nodes) await this.listen(node)
        return this
      } catch {
        await this.close()
      }
    }
    throw new Error('no port free on every gateway address')
  }

  set(node: string, s: Partial<GatewayState>): void {
    this.state.set(node, { ...this.get(node), ...s })
  }

  get(node: string): GatewayState {
    return this.state.get(node) ?? { gwState: 'up', duration: '', progress: '', failCalls: false }
  }

  /** Takes one node off the network (its address refuses connections). */
  async stop(node: string): Promise<void> {
    const s = this.servers.get(node)
    this.servers.delete(node)
    if (s) await new Promise<void>((r) => {
      s.closeAllConnections()
      s.close(() => r())
    })
  }

  async close(): Promise<void> {
    for (const node of [...this.servers.keys()]) await this.stop(node)
  }

  polls(node?: string): number {
    return this.calls.filter((c) => c.path === '/progress' && (node === undefined || c.node === node)).length
  }

  private listen(node: string): Promise<void> {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      this.calls.push({ node, method: req.method ?? '', path: url.pathname, room: url.searchParams.get('room') })
      const s = this.get(node)
      if (url.pathname === '/progress') {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ gw_state: s.gwState, recording_duration: s.duration, transcript_progress: s.progress }))
        return
      }
      const answer = () => {
        res.writeHead(s.failCalls ? 500 : 200, { 'content-type': 'application/json' })
        res.end('{}')
      }
      if (s.delayMs) setTimeout(answer, s.delayMs)
      else answer()
    })
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.port, node, () => {
        this.servers.set(node, server)
        resolve()
      })
    })
  }
}
