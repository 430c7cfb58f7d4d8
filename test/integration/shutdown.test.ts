/**
 * Graceful shutdown of the real process: SIGTERM stops accepting, closes
 * WebSockets with 1012 (service restart), lets in-flight proxied requests finish (up to the
 * drain timeout), releases Redis, and exits 0.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { freePort, sleep, waitFor } from '../helpers/ports.js'
import { runCli, type RunningCli } from '../helpers/process.js'
import { RedisServer } from '../helpers/redis-server.js'
import { sendJson, startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { TestClient } from '../helpers/ws-client.js'

const redis = new RedisServer()
let upstream: TestUpstream
const running: RunningCli[] = []
const dir = mkdtempSync(join(tmpdir(), 'roomgate-shutdown-'))

beforeAll(async () => {
  await redis.start()
  upstream = await startUpstream((req, res) => {
    if (req.url?.startsWith('/v1/measurement/slow')) setTimeout(() => sendJson(res, 200, { finished: true }), 800)
    else if (req.url?.startsWith('/v1/measurement/hang')) return
    else sendJson(res, 200, { ok: true })
  })
})
afterAll(async () => {
  await upstream.close()
  await redis.stop()
})
afterEach(() => {
  for (const r of running.splice(0)) r.proc.kill('SIGKILL')
})

async function start(drainTimeoutMs: number): Promise<{ cli: RunningCli; url: string }> {
  const file = join(dir, `config-${drainTimeoutMs}.yaml`)
  writeFileSync(
    file,
    [
      `services: { measurement: { url: "${upstream.url}" } }`,
      `shutdown: { drainTimeoutMs: ${drainTimeoutMs} }`,
      'httpTimeoutSeconds: 30',
    ].join('\n'),
  )
  const port = await freePort()
  const cli = runCli(['start', '--config', file], { PORT: String(port), HOST: '127.0.0.1', REDIS_URL: redis.url })
  running.push(cli)
  await cli.waitForLine('roomgate listening')
  return { cli, url: `http://127.0.0.1:${port}` }
}

async function roomgateConnections(): Promise<number> {
  const c = redis.client()
  try {
    return String(await c.client('LIST'))
      .split('\n')
      .filter((l: string) => l.includes('name=roomgate:')).length
  } finally {
    c.disconnect()
  }
}

describe('SIGTERM', () => {
  it('drains in-flight requests, closes WebSockets with 1012 service restart, releases Redis and exits 0', async () => {
    const { cli, url } = await start(5_000)
    expect(await roomgateConnections()).toBe(2)
    const ws = await TestClient.connect(`${url.replace('http', 'ws')}/ws?device_id=d`)
    const inFlight = request(`${url}/v1/measurement/slow`)
    await sleep(200)
    cli.proc.kill('SIGTERM')

    expect(await ws.closed).toEqual({ code: 1012, reason: 'service restart' })
    const res = await inFlight
    expect(res.statusCode).toBe(200)
    expect(await res.body.json()).toEqual({ finished: true })
    // No new work is taken once draining has begun.
    await expect(request(`${url}/healthz`).then((r) => r.statusCode)).rejects.toThrow()

    expect(await cli.exited).toBe(0)
    expect(cli.stdout.some((l) => l.includes('roomgate stopped'))).toBe(true)
    await waitFor(async () => (await roomgateConnections()) === 0, 3_000, 'redis connections to close')
  })

  it('cuts what is left when the drain timeout passes', async () => {
    const { cli, url } = await start(300)
    const hung = request(`${url}/v1/measurement/hang`)
    await sleep(100)
    const signalled = Date.now()
    cli.proc.kill('SIGTERM')
    await expect(hung).rejects.toThrow()
    expect(await cli.exited).toBe(0)
    expect(Date.now() - signalled).toBeLessThan(2_000)
    expect(cli.stdout.some((l) => l.includes('drain timeout reached'))).toBe(true)
  })

  it('exits at once, non-zero, on a second signal', async () => {
    const { cli, url } = await start(30_000)
    const hung = request(`${url}/v1/measurement/hang`).catch(() => undefined)
    await sleep(100)
    cli.proc.kill('SIGTERM')
    await sleep(100)
    cli.proc.kill('SIGINT')
    expect(await cli.exited).toBe(1)
    await hung
  })
})
