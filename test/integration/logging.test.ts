/**
 * What roomgate writes to its log beyond the events themselves: the access
 * log (`log.access`), the cause when Redis cannot be reached and its recovery,
 * and human lines with LOG_FORMAT=pretty.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { closeGates, startGate } from '../helpers/gate.js'
import { freePort, waitFor } from '../helpers/ports.js'
import { runCli, type RunningCli } from '../helpers/process.js'
import { RedisServer } from '../helpers/redis-server.js'
import { startService, type TestUpstream } from '../helpers/upstream.js'
import { TestClient } from '../helpers/ws-client.js'

const closers: Array<() => unknown> = []
afterEach(async () => {
  await closeGates()
  for (const close of closers.splice(0).reverse()) await close()
})

const messages = (logs: string[]) => logs.map((l) => JSON.parse(l) as { msg: string; access?: boolean; level: number })
const CLF = /^127\.0\.0\.1 - - \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "([A-Z]+) (\S+) HTTP\/1\.1" (\d{3}) (\S+) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)" \d+\.\dms/

describe('access log', () => {
  it('writes one combined-format line per request, proxied ones too, without the query', async () => {
    const upstream: TestUpstream = await startService(() => ({ status: 200, body: { ok: true } }))
    closers.push(() => upstream.close())
    const g = await startGate({
      log: { access: true },
      services: { measurement: { url: upstream.url } },
      proxy: { routes: [{ prefix: '/v1/measurement', service: 'measurement', auth: 'none' }] },
    })
    await (await request(`${g.url}/healthz`, { headers: { 'user-agent': 'probe/1.0', referer: 'http://x/"y"' } })).body.dump()
    await (await request(`${g.url}/v1/measurement/items?token=SECRET-TOKEN&id=1`)).body.dump()
    await (await request(`${g.url}/no-such-route`)).body.dump()
    const ws = await TestClient.connect(`${g.wsUrl}/ws?device_id=d1&note=SECRET-TOKEN`)
    ws.close()
    const lines = await waitFor(() => {
      const access = messages(g.logs).filter((m) => m.access)
      return access.length >= 4 ? access : undefined
    }, 5_000, 'four access lines')
    const parsed = lines.map((m) => CLF.exec(m.msg)?.slice(1, 7))
    expect(parsed).toEqual([
      ['GET', '/healthz', '200', expect.stringMatching(/^\d+$/), 'http://x/\\"y\\"', 'probe/1.0'],
      ['GET', '/v1/measurement/items?…', '200', expect.any(String), '-', expect.any(String)],
      ['GET', '/no-such-route', '404', expect.any(String), '-', expect.any(String)],
      ['GET', '/ws?…', '101', '-', '-', expect.any(String)],
    ])
    expect(lines.every((m) => m.level === 30)).toBe(true)
    expect(g.logs.join('\n')).not.toContain('SECRET-TOKEN')
  })

  it('writes nothing of the kind when off (the default)', async () => {
    const g = await startGate()
    await (await request(`${g.url}/healthz`)).body.dump()
    expect(messages(g.logs).filter((m) => m.access)).toEqual([])
  })
})

describe('Redis that cannot be reached', () => {
  it('says why once (connection refused), then that it is back', async () => {
    const redis = new RedisServer()
    redis.port = await freePort()
    closers.push(() => redis.stop())
    const g = await startGate({ redis: { connectTimeoutMs: 200 } }, { REDIS_URL: redis.url })
    const refused = `redis at redis://127.0.0.1:${redis.port} cannot be reached: connection refused`
    await waitFor(() => g.logs.some((l) => l.includes(refused)), 10_000, 'the cause')
    // ioredis retries meanwhile: the cause is not repeated.
    await new Promise((r) => setTimeout(r, 1_500))
    expect(g.logs.filter((l) => l.includes('cannot be reached')).length).toBe(1)
    await redis.start()
    await waitFor(() => g.logs.some((l) => l.includes('redis connected again (it was unreachable: connection refused)')), 20_000, 'the recovery')
  })

  it('says the password is wrong, and never logs it', async () => {
    const redis = new RedisServer('right-password')
    await redis.start()
    closers.push(() => redis.stop())
    const wrong = `redis://:WRONG-PASSWORD@127.0.0.1:${redis.port}`
    const g = await startGate({ redis: { connectTimeoutMs: 200 } }, { REDIS_URL: wrong })
    await waitFor(() => g.logs.some((l) => l.includes('cannot be reached: authentication failed')), 10_000, 'the cause')
    expect(g.logs.join('\n')).not.toContain('WRONG-PASSWORD')
  })
})

describe('log format', () => {
  const dir = mkdtempSync(join(tmpdir(), 'roomgate-logfmt-'))
  const file = join(dir, 'c.yaml')
  writeFileSync(file, 'host: 127.0.0.1\n')
  const running: RunningCli[] = []
  afterAll(() => {
    for (const r of running) r.proc.kill('SIGKILL')
  })
  const start = async (env: NodeJS.ProcessEnv) => {
    const cli = runCli(['start', '--config', file], { PORT: String(await freePort()), ...env })
    running.push(cli)
    await cli.waitForLine('listening')
    cli.proc.kill('SIGTERM')
    await cli.exited
    return cli.stdout
  }

  it('is JSON when stdout is not a terminal, and human lines with LOG_FORMAT=pretty', async () => {
    const json = await start({})
    expect(json.every((l) => l.startsWith('{') && JSON.parse(l).service === 'roomgate')).toBe(true)
    const pretty = await start({ LOG_FORMAT: 'pretty' })
    expect(pretty.length).toBeGreaterThan(0)
    expect(pretty.some((l) => l.startsWith('{'))).toBe(false)
    expect(pretty.find((l) => l.includes('listening'))).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: .*listening/)
  })

  it('refuses a LOG_FORMAT it does not know, naming the variable', async () => {
    const cli = runCli(['start', '--config', file], { LOG_FORMAT: 'fancy' })
    running.push(cli)
    expect(await cli.exited).toBe(2)
    expect(cli.stderr.join('\n')).toContain('LOG_FORMAT: log.format must be one of')
  })
})
