// The http-latency benchmark's open-loop client (bench/openloop/openloop.c):
// compiled here with gcc, run against a node:http server on port 0. It must
// send at its rate whatever the server does and charge a stall to every
// request scheduled during it (coordinated omission corrected), count error
// answers, and follow a server that closes its keep-alive connections.
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const dir = mkdtempSync(join(tmpdir(), 'roomgate-openloop-'))
const bin = join(dir, 'openloop')

interface Result {
  scheduled: number
  completed: number
  errors: number
  first_error_status: number
  unfinished: number
  p50_us: number
  p90_us: number
  p99_us: number
}

async function openloop(port: number, args: string[]): Promise<Result> {
  const { stdout } = await run(bin, ['--port', String(port), '--path', '/x', ...args])
  return JSON.parse(stdout) as Result
}

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: number }> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as { port: number }).port }
}

beforeAll(async () => {
  // gcc is on every machine this project runs on; a missing one fails here, loudly.
  await run('gcc', ['-O2', '-Wall', '-o', bin, join(import.meta.dirname, '../../bench/openloop/openloop.c')])
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('openloop', () => {
  it('charges a server stall to every request scheduled during it', async () => {
    let answered = 0
    let stalled = false
    const { server, port } = await serve((req, res) => {
      answered++
      res.end('ok')
      // Once, a quarter into the run: the event loop blocks for 400 ms.
      if (answered === 200 && !stalled) {
        stalled = true
        setImmediate(() => {
          const until = Date.now() + 400
          while (Date.now() < until);
        })
      }
    })
    try {
      const r = await openloop(port, ['--rate', '500', '--seconds', '2', '--warmup', '0', '--connections', '4'])
      expect(stalled).toBe(true)
      expect(r.scheduled).toBe(1000)
      expect(r.completed).toBe(1000)
      expect(r.errors).toBe(0)
      expect(r.unfinished).toBe(0)
      // ~200 requests (10 %) were due during the stall; a closed-loop client with 4
      // connections would have counted 4 slow ones (0.4 %) and missed p90 and p99.
      expect(r.p90_us).toBeGreaterThanOrEqual(100_000)
      expect(r.p99_us).toBeGreaterThanOrEqual(300_000)
      expect(r.p50_us).toBeLessThan(r.p90_us)
    } finally {
      server.close()
    }
  })

  it('counts error answers, with the first status, and follows Connection: close', async () => {
    let n = 0
    const { server, port } = await serve((req, res) => {
      n++
      if (n % 10 === 0) res.writeHead(503).end('busy')
      else res.writeHead(200, n % 7 === 0 ? { connection: 'close' } : {}).end('ok')
    })
    try {
      const r = await openloop(port, ['--rate', '200', '--seconds', '1', '--warmup', '0', '--connections', '2', '--header', 'authorization: Bearer x'])
      expect(r.scheduled).toBe(200)
      expect(r.errors).toBe(20)
      expect(r.first_error_status).toBe(503)
      expect(r.completed).toBe(180)
      expect(r.unfinished).toBe(0)
    } finally {
      server.close()
    }
  })
})
