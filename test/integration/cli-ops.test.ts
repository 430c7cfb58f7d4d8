/**
 * The client commands of `roomgate` (bin/roomgate.js → dist/, run as a child
 * process) against a real roomgate started in this process: cache jobs
 * (submit, --watch over /ws and by polling, list, get, cancel), rooms,
 * public statuses (--follow over SSE), config check, and the exit codes and
 * messages for an unreachable server, a refused key and unknown ids.
 */
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer, type Server, type Socket } from 'node:net'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startClientApi, type FakeClientApi } from '../helpers/client-api.js'
import { closeGates, startGate, type TestGate } from '../helpers/gate.js'
import { KEY, tempRoot, type TempRoot } from '../helpers/job-files.js'
import { freePort } from '../helpers/ports.js'
import { runCli, type RunningCli } from '../helpers/process.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

const TOKEN = 'rooms-token-5f1e'
const CLIENT_TOKEN = 'client-api-token-SECRET'
const MIB = 1024 * 1024
/** The workers read at most this fast, so a job of a few MiB runs long enough to watch. */
const BYTES_PER_SECOND = 2 * MIB
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

let root: TempRoot
let api: FakeClientApi
let gate: TestGate
let env: NodeJS.ProcessEnv
const dir = mkdtempSync(join(tmpdir(), 'roomgate-cli-ops-'))

beforeAll(async () => {
  root = await tempRoot()
  await root.file('media/a.mov', 2 * MIB)
  await root.file('media/b.mov', 2 * MIB)
  await root.file('media/deeper/c.mov', MIB)
  await root.file('small/one.bin', 1000)
  await root.file('small/two.bin', 2000)
  await root.file('big/huge.bin', 64 * MIB)
  api = await startClientApi()
  api.expect = { header: 'authorization', value: `Bearer ${CLIENT_TOKEN}` }
  api.units = [
    { ref: 'A-101', status: 'open' },
    { ref: 'A-102', status: 'hold' },
    { ref: 'A-103', status: 'sold' },
  ]
  gate = await startGate(
    {
      auth: { apiKeys: [KEY], bearerTokens: [TOKEN] },
      rateLimit: { rps: 10_000, burst: 10_000 },
      jobs: {
        root: root.dir,
        rateLimit: { perMinute: 100_000, readsPerMinute: 100_000 },
        maxBytesPerSecond: BYTES_PER_SECOND,
        progressFileThreshold: 1,
        progressTimeThresholdMs: 200,
      },
      rooms: {
        legacyPool: 'gateways',
        pools: {
          // Nothing listens there: a started room stays mapped whatever the monitor finds.
          gateways: { strategy: 'exclusive', nodes: ['127.0.0.2'], progressUrl: 'http://{node}:9/progress?room={room}', monitorIntervalMs: 60_000 },
          janus: { strategy: 'least-loaded', nodes: ['gxy1', 'gxy2'] },
        },
      },
      status: {
        sources: [
          {
            slug: 'demo',
            url: `${api.url}/units`,
            auth: { type: 'bearer', tokenEnv: 'DEMO_TOKEN' },
            mapping: { available: ['open'], reserved: ['hold'], sold: ['sold'] },
            pollIntervalSeconds: 1,
            cacheTtlSeconds: 1,
            timeoutSeconds: 1,
            retryCount: 0,
          },
        ],
      },
    },
    { DEMO_TOKEN: CLIENT_TOKEN },
  )
  env = { ROOMGATE_URL: gate.url, ROOMGATE_API_KEY: KEY }
})

afterAll(async () => {
  await closeGates()
  await api.close()
  await root.remove()
})

async function done(cli: RunningCli): Promise<{ code: number | null; out: string; err: string }> {
  const code = await cli.exited
  return { code, out: cli.stdout.join('\n'), err: cli.stderr.join('\n') }
}

const cli = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => done(runCli(args, { ...env, ...extraEnv }))

describe('roomgate jobs', () => {
  it('submit --watch shows plain progress lines when stdout is not a TTY, and exits 0 when the job completes', async () => {
    const started = Date.now()
    const r = await cli(['jobs', 'submit', 'media/a.mov', 'media/b.mov', 'media/deeper/c.mov', '--watch'])
    const seconds = (Date.now() - started) / 1000
    expect(r.code, r.err).toBe(0)
    const lines = r.out.split('\n')
    expect(lines[0]).toMatch(UUID)
    expect(r.err).toContain('job created: 3 files, 5.0 MB')
    expect(r.out).not.toContain('\r')
    const running = lines.filter((l) => l.startsWith('running'))
    expect(running.length).toBeGreaterThan(0)
    expect(running[0]).toMatch(/^running\s+\d+\.\d%\s+\d\/3 files\s+[\d.]+ (B|KB|MB) \/ 5\.0 MB\s+\S+( \S+)?\s+ETA \S+$/)
    // At most one plain line a second (plus the changes of state).
    expect(running.length).toBeLessThanOrEqual(Math.ceil(seconds) + 2)
    expect(lines).toContainEqual(expect.stringMatching(/^completed\s+100\.0%\s+3\/3 files\s+5\.0 MB \/ 5\.0 MB$/))
    expect(lines.at(-1)).toMatch(new RegExp(`^job ${lines[0]} completed: 3 of 3 files, 5\\.0 MB in [\\d.]+ s$`))
  })

  it('--json prints one object; with --watch one object per line, ending with the completed job', async () => {
    const one = await cli(['jobs', 'submit', 'small/one.bin', '--json'])
    expect(one.code).toBe(0)
    const created = JSON.parse(one.out)
    expect(created).toMatchObject({ success: true, jobId: expect.stringMatching(UUID), totalFiles: 1, totalSize: { bytes: 1000 } })

    const watched = await cli(['jobs', 'submit', '--dir', 'small', '--watch', '--json'])
    expect(watched.code, watched.err).toBe(0)
    const events = watched.out.split('\n').map((l) => JSON.parse(l) as { event: string; data: Record<string, unknown> })
    expect(events[0]).toMatchObject({ event: 'job.created', data: { totalFiles: 2 } })
    const last = events.filter((e) => e.event === 'job.progress').at(-1)!
    expect(last.data).toMatchObject({ id: events[0]!.data.jobId, status: 'completed', progress: { files: { completed: 2, total: 2 } } })
  })

  it('reports files the server did not find, on stderr', async () => {
    const r = await cli(['jobs', 'submit', 'small/one.bin', 'small/nope.bin'])
    expect(r.code).toBe(0)
    expect(r.err).toContain('not found on the server: small/nope.bin')
  })

  it('list, get and cancel a running job; cancelling a finished one fails with the server message', async () => {
    expect((await cli(['jobs', 'submit', 'small/two.bin', '--watch'])).code).toBe(0)
    const submitted = await cli(['jobs', 'submit', 'big/huge.bin'])
    expect(submitted.code).toBe(0)
    const id = submitted.out.trim()
    expect(id).toMatch(UUID)

    const list = await cli(['jobs', 'list', '--limit', '2'])
    expect(list.code).toBe(0)
    const rows = list.out.split('\n')
    expect(rows[0]).toMatch(/^ID\s+STATUS\s+FILES\s+SIZE\s+CREATED$/)
    expect(rows).toHaveLength(3)
    expect(rows[2]).toMatch(/^\S+\s+completed\s+1\/1\s+1\.95 KB \/ 1\.95 KB\s/)
    expect(rows[1]).toMatch(new RegExp(`^${id}\\s+(pending|running)\\s+0/1\\s+.* / 64\\.0 MB\\s+\\d{4}-`))

    const completed = JSON.parse((await cli(['jobs', 'list', '--status', 'completed', '--json'])).out)
    expect(completed.jobs.length).toBeGreaterThanOrEqual(1)
    expect(completed.jobs.every((j: { status: string }) => j.status === 'completed')).toBe(true)
    expect(completed.total).toBe(completed.jobs.length)

    const get = await cli(['jobs', 'get', id])
    expect(get.code).toBe(0)
    expect(get.out).toMatch(new RegExp(`^id\\s+${id}$`, 'm'))
    expect(get.out).toMatch(/^status\s+(pending|running)$/m)
    expect(get.out).toMatch(/^size\s+.* \/ 64\.0 MB/m)

    const cancel = await cli(['jobs', 'cancel', id])
    expect(cancel.code).toBe(0)
    expect(cancel.out).toBe(`job ${id} cancelled`)
    expect(JSON.parse((await cli(['jobs', 'get', id, '--json'])).out)).toMatchObject({ success: true, job: { id, status: 'cancelled' } })

    const finished = await cli(['jobs', 'cancel', completed.jobs[0].id])
    expect(finished.code).toBe(1)
    expect(finished.err).toBe('roomgate: the server answered 409 conflict: Job is already completed')

    // Watching a job that ended cancelled: exit 1.
    expect((await cli(['jobs', 'get', id, '--watch'])).code).toBe(1)
  })

  it('Ctrl-C during --watch stops watching (exit 130) and leaves the job running', async () => {
    const watching = runCli(['jobs', 'submit', 'big/huge.bin', '--watch'], env)
    const id = (await watching.waitForLine('-')).trim()
    expect(id).toMatch(UUID)
    await watching.waitForLine('running')
    watching.proc.kill('SIGINT')
    const r = await done(watching)
    expect(r.code).toBe(130)
    expect(r.err).toContain(`stopped watching; job ${id} goes on (roomgate jobs get ${id} --watch)`)
    const after = JSON.parse((await cli(['jobs', 'get', id, '--json'])).out)
    expect(after.job.status).toBe('running')
    expect((await cli(['jobs', 'cancel', id])).code).toBe(0)
  })

  it('falls back to polling when the WebSocket cannot be used, and still follows the job to its end', async () => {
    const proxy = await httpOnlyProxy(gate.url)
    try {
      const r = await cli(['jobs', 'submit', '--dir', 'media', '--watch', '--url', proxy.url])
      expect(r.code, r.err).toBe(0)
      expect(r.err).toMatch(/live updates unavailable \(.+\); polling every second/)
      expect(r.out.split('\n').at(-1)).toMatch(/completed: 3 of 3 files, 5\.0 MB/)
    } finally {
      await proxy.close()
    }
  })

  it('exits 5 for an unknown job id, and 2 for a malformed one, with the server message', async () => {
    const unknown = await cli(['jobs', 'get', '00000000-0000-4000-8000-000000000000'])
    expect(unknown.code).toBe(5)
    expect(unknown.err).toBe('roomgate: the server answered 404 not_found: Job not found')
    expect((await cli(['jobs', 'cancel', '00000000-0000-4000-8000-000000000000'])).code).toBe(5)
    const bad = await cli(['jobs', 'get', 'not-an-id'])
    expect(bad.code).toBe(2)
    expect(bad.err).toContain('Invalid job ID format')
  })

  it('exits 4 with a clear message when the key is wrong or missing, and never prints the key', async () => {
    const wrong = await cli(['jobs', 'list', '--key', 'wrong-key-SECRET'])
    expect(wrong.code).toBe(4)
    expect(wrong.err).toBe('roomgate: the server refused the API key (401 unauthorized): Invalid or missing API key')
    expect(wrong.out + wrong.err).not.toContain('wrong-key-SECRET')
    const missing = await cli(['jobs', 'list'], { ROOMGATE_API_KEY: '' })
    expect(missing.code).toBe(4)
    expect(missing.err).toMatch(/the server wants an API key \(--key or ROOMGATE_API_KEY\) \(401 unauthorized\)/)
  })

  it('exits 2 on bad usage before calling anyone', async () => {
    for (const args of [['jobs'], ['jobs', 'submit'], ['jobs', 'list', '--status', 'done'], ['jobs', 'list', '--limit', '0'], ['jobs', 'get'], ['jobs', 'list', '--follow'], ['rooms', 'list', '--key', 'k']]) {
      const r = await cli(args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.err).toMatch(/^roomgate: /)
    }
    expect((await cli(['jobs', 'list', '--url', 'ftp://x'])).code).toBe(2)
    expect((await cli(['jobs', 'list', '--timeout', 'soon'])).code).toBe(2)
  })
})

describe('an unreachable server', () => {
  it('exits 3 at once when nothing listens', async () => {
    const port = await freePort()
    const started = Date.now()
    const r = await cli(['jobs', 'list', '--url', `http://127.0.0.1:${port}`])
    expect(r.code).toBe(3)
    expect(r.err).toBe(`roomgate: cannot reach http://127.0.0.1:${port} (connection refused)`)
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it('exits 3 after --timeout when the server accepts but never answers', async () => {
    const silent = await silentServer()
    try {
      const started = Date.now()
      const r = await cli(['status', 'demo', '--url', `http://127.0.0.1:${silent.port}`, '--timeout', '0.5'])
      expect(r.code).toBe(3)
      expect(r.err).toBe(`roomgate: cannot reach http://127.0.0.1:${silent.port} (no answer within 0.5 s)`)
      expect(Date.now() - started).toBeLessThan(5_000)
    } finally {
      await silent.close()
    }
  })

  it('exits 3 for a host that does not resolve', async () => {
    const r = await cli(['rooms', 'list', '--url', 'http://no-such-host.invalid'])
    expect(r.code).toBe(3)
    expect(r.err).toMatch(/^roomgate: cannot reach http:\/\/no-such-host\.invalid \((host not found|DNS lookup failed)\)$/)
  })
})

describe('roomgate rooms list', () => {
  it('shows each room with its pool, node and users, a summary per pool, and with --token the gateway mappings', async () => {
    for (const user of ['alice', 'bob']) {
      expect((await fetch(`${gate.url}/v2/rooms/2171/presence/${user}`, { method: 'PUT' })).status).toBe(200)
    }
    const started = await fetch(`${gate.url}/start?room=math101`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })
    expect(started.status).toBe(200)

    const plain = await cli(['rooms', 'list'])
    expect(plain.code, plain.err).toBe(0)
    expect(plain.out).toMatch(/^POOL\s+NODE\s+ROOM\s+USERS\s+STATE\s+LAST USED$/m)
    expect(plain.out).toMatch(/^janus\s+gxy1\s+2171\s+2\s+active\s+\d{4}-/m)
    // Seed 000's gateways are shown only with a bearer token.
    expect(plain.out).not.toContain('math101')
    expect(plain.out).toContain('janus: 1 room, 2 users on 1 node (gxy1 2 users)')
    expect(plain.out).not.toContain('gateway mappings')

    const withToken = await cli(['rooms', 'list', '--token', TOKEN])
    expect(withToken.code).toBe(0)
    expect(withToken.out).toMatch(/^gateways\s+127\.0\.0\.2\s+math101\s+0\s+started\s+-$/m)
    expect(withToken.out).toMatch(/gateway mappings \(GET \/status\):\nROOM\s+GATEWAY\s+STATE\s+DURATION\s+TRANSCRIPT\nmath101\s+127\.0\.0\.2\s+started/)

    const json = JSON.parse((await cli(['rooms', 'list', '--json'], { ROOMGATE_TOKEN: TOKEN })).out)
    expect(json.rooms).toContainEqual(expect.objectContaining({ room: '2171', pool: 'janus', node: 'gxy1', users: 2, state: 'active' }))
    expect(json.legacy).toEqual([expect.objectContaining({ room: 'math101', gateway: '127.0.0.2', state: 'started' })])

    const refused = await cli(['rooms', 'list', '--token', 'wrong'])
    expect(refused.code, refused.err).toBe(0)
    expect(refused.err).toContain('no gateway mappings: the server refused the token (401 unauthorized)')
  })
})

describe('roomgate status', () => {
  it('prints the mapped statuses of a project; an unknown slug exits 5', async () => {
    const r = await cli(['status', 'demo'])
    expect(r.code, r.err).toBe(0)
    expect(r.out).toBe(['demo: 3 units', 'UNIT   STATUS', 'A-101  available', 'A-102  reserved', 'A-103  sold'].join('\n'))
    expect(JSON.parse((await cli(['status', 'demo', '--json'])).out)).toEqual({
      project: 'demo',
      statuses: { 'A-101': 'available', 'A-102': 'reserved', 'A-103': 'sold' },
      count: 3,
    })
    const unknown = await cli(['status', 'nope'])
    expect(unknown.code).toBe(5)
    expect(unknown.err).toBe('roomgate: the server answered 404 not_found: Project not found')
  })

  it('--follow prints the statuses, then each change, and exits 0 on SIGTERM', async () => {
    const follow = runCli(['status', 'demo', '--follow'], env)
    await follow.waitForLine('A-103')
    api.units = [
      { ref: 'A-101', status: 'sold' },
      { ref: 'A-102', status: 'hold' },
      { ref: 'A-103', status: 'sold' },
      { ref: 'A-104', status: 'open' },
    ]
    const line = await follow.waitForLine('A-101  available -> sold')
    expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}A-101 {2}available -> sold$/)
    await follow.waitForLine('A-104  (new) -> available')
    follow.proc.kill('SIGTERM')
    const r = await done(follow)
    expect(r.code).toBe(0)
    expect(r.err).toContain(`following demo at ${gate.url}`)
    expect(r.out + r.err).not.toContain(CLIENT_TOKEN)
  })

  it('--follow reconnects with backoff when the server goes away, and prints what changed meanwhile', async () => {
    const port = await freePort()
    const source = { slug: 'demo', url: `${api.url}/units`, auth: { type: 'bearer', tokenEnv: 'DEMO_TOKEN' }, mapping: { sold: ['sold'] }, pollIntervalSeconds: 1, cacheTtlSeconds: 1, retryCount: 0 }
    const settings = { port, status: { sources: [source] } }
    const before = api.units
    api.units = [{ ref: 'B-1', status: 'open' }]
    let second = await startGate(settings, { DEMO_TOKEN: CLIENT_TOKEN })
    const follow = runCli(['status', 'demo', '--follow', '--url', `http://127.0.0.1:${port}`], env)
    try {
      await follow.waitForLine('B-1')
      await second.close()
      api.units = [{ ref: 'B-1', status: 'sold' }]
      await waitForStderr(follow, 'reconnecting in')
      second = await startGate(settings, { DEMO_TOKEN: CLIENT_TOKEN })
      await follow.waitForLine('B-1  available -> sold', 15_000)
      expect(follow.stderr.join('\n')).toContain('roomgate: reconnected')
    } finally {
      follow.proc.kill('SIGTERM')
      await follow.exited
      await second.close()
      api.units = before
    }
  })

  it('--follow --json prints one SSE update per line', async () => {
    const follow = runCli(['status', 'demo', '--follow', '--json'], env)
    const first = JSON.parse(await follow.waitForLine('status_update'))
    expect(first).toMatchObject({ event: 'status_update', id: expect.any(String), data: { statuses: expect.objectContaining({ 'A-102': 'reserved' }) } })
    follow.proc.kill('SIGINT')
    expect(await follow.exited).toBe(0)
  })
})

describe('roomgate config check', () => {
  const file = (text: string) => {
    const p = join(dir, `c-${Math.random().toString(36).slice(2)}.yaml`)
    writeFileSync(p, text)
    return p
  }

  it('prints ok and a summary, without secrets; env overrides apply', async () => {
    mkdirSync(join(dir, 'cache'), { recursive: true })
    const p = file(
      [
        'port: 9000',
        'auth: { apiKeys: [very-secret-key], bearerTokens: [tok-SECRET] }',
        'jobs: { root: ./cache }',
        "rooms: { legacyPool: gw, pools: { gw: { strategy: exclusive, nodes: [10.0.0.1, 10.0.0.2], progressUrl: 'http://{node}/p?room={room}' } } }",
      ].join('\n'),
    )
    const r = await cli(['config', 'check', p], { PORT: '9100', REDIS_URL: 'redis://user:pw-SECRET@127.0.0.1:6379' })
    expect(r.code, r.err).toBe(0)
    expect(r.out.split('\n')[0]).toBe(`ok: ${p}`)
    expect(r.out).toMatch(/^engine\s+redis \(redis:\/\/127\.0\.0\.1:6379\)$/m)
    expect(r.out).toMatch(/^listen\s+0\.0\.0\.0:9100$/m)
    expect(r.out).toMatch(/^pools\s+gw \(exclusive, 2 nodes, seed 000\), janus \(least-loaded, 12 nodes, seed 003\)$/m)
    expect(r.out).toMatch(new RegExp(`^jobs root\\s+${join(dir, 'cache').replace(/[/.]/g, '\\$&')}$`, 'm'))
    expect(r.out).toMatch(/^credentials\s+1 API key, 1 bearer token, internal token not set$/m)
    expect(r.out).not.toMatch(/SECRET|very-secret-key/)

    const json = JSON.parse((await cli(['config', 'check', p, '--json'])).out)
    expect(json).toMatchObject({ ok: true, file: p, summary: { engine: 'memory', listen: '0.0.0.0:9000', legacyPool: 'gw' } })
  })

  it('exits 2 with the dotted key of a bad value', async () => {
    const p = file('rateLimit:\n  rps: -5\n')
    const r = await cli(['config', 'check', p])
    expect(r.code).toBe(2)
    expect(r.err).toBe('roomgate: config error: rateLimit.rps must be > 0, got -5')
    const json = await cli(['config', 'check', p, '--json'])
    expect(json.code).toBe(2)
    expect(JSON.parse(json.out)).toEqual({ ok: false, file: p, error: 'rateLimit.rps must be > 0, got -5' })
    expect((await cli(['config', 'check', join(dir, 'missing.yaml')])).code).toBe(2)
    expect((await cli(['config', 'check'])).code).toBe(2)
  })

  it('exits 2 naming a jobs.root that cannot be read here, and one that is a file', async () => {
    const missing = join(dir, 'no-such-cache')
    const r = await cli(['config', 'check', file(`jobs: { root: ${missing} }\n`)])
    expect(r.code).toBe(2)
    expect(r.err).toBe(
      `roomgate: config error: jobs.root "${missing}" cannot be read: no such file or directory (roomgate start would run and refuse new cache jobs until it can be)`,
    )
    const plain = file('port: 9000\n')
    const notFolder = await cli(['config', 'check', file('jobs: { root: ./x }\n')], { JOBS_ROOT: plain })
    expect(notFolder.code).toBe(2)
    expect(notFolder.err).toBe(`roomgate: config error: jobs.root "${plain}" is not a folder`)
  })
})

async function waitForStderr(running: RunningCli, text: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!running.stderr.some((l) => l.includes(text))) {
    if (Date.now() > deadline) throw new Error(`no stderr line with ${JSON.stringify(text)}: ${running.stderr.join('\n')}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Forwards plain HTTP to `target` and refuses every WebSocket upgrade (a proxy that does not speak WebSocket). */
async function httpOnlyProxy(target: string): Promise<TestUpstream> {
  const to = new URL(target)
  const proxy = await startUpstream((req: IncomingMessage, res: ServerResponse) => {
    const out = httpRequest({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    out.on('error', () => res.destroy())
    req.pipe(out)
  })
  proxy.server.on('upgrade', (_req, socket: Socket) => {
    socket.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
  })
  return proxy
}

/** Accepts connections and never answers. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((s) => {
    sockets.add(s)
    s.on('error', () => undefined)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy()
        server.close(() => r())
      }),
  }
}
