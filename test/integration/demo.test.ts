/** `npm start` (roomgate demo): the demo config and services work end to end. */
import { afterEach, expect, it } from 'vitest'
import { request } from 'undici'
import { freePort, waitFor } from '../helpers/ports.js'
import { runCli, type RunningCli } from '../helpers/process.js'
import { TestClient } from '../helpers/ws-client.js'

let cli: RunningCli | undefined
afterEach(() => {
  cli?.proc.kill('SIGKILL')
})

it('routes events, pushes broadcasts and proxies HTTP with the demo config', async () => {
  const [port, demo] = await Promise.all([freePort(), freePort()])
  const base = `http://127.0.0.1:${demo}`
  cli = runCli(['demo'], {
    PORT: String(port),
    LOBBY_URL: `${base}/lobby`,
    MEASUREMENT_URL: `${base}/measurement`,
    SIMULATION_URL: `${base}/simulation`,
  })
  await cli.waitForLine('demo ready')
  const url = `http://127.0.0.1:${port}`

  const ws = await TestClient.connect(`ws://127.0.0.1:${port}/ws?device_id=phone-1`)
  const created = await ws.request('lobby.create')
  expect(created).toMatchObject({ type: 'response', data: { code: 'ABC123' } })
  expect((await ws.request('lobby.join')).data).toEqual({ joined: true })
  expect(await ws.next((m) => m.type === 'event')).toEqual({
    type: 'event',
    event: 'lobby.updated',
    data: { type: 'participant_joined', device_id: 'phone-1' },
    stream: 'all',
    offset: expect.any(Number),
  })
  expect((await ws.request('simulation.run', { x: 1 })).data).toMatchObject({ service: 'simulation', echo: { x: 1 } })
  expect((await ws.request('lobby.fail')).error).toEqual({ code: 'demo_failure', message: 'lobby refused lobby.fail' })

  const res = await request(`${url}/v1/measurement/results?id=7`)
  expect(await res.body.json()).toMatchObject({
    service: 'measurement',
    path: '/v1/measurement/results',
    query: '?id=7',
    forwarded: { for: '127.0.0.1', proto: 'http' },
  })

  ws.close()
  cli.proc.kill('SIGTERM')
  expect(await cli.exited).toBe(0)
})

it('starts its backend before its health checks and status polls: a first run warns of nothing', async () => {
  // The demo's defaults: its backend on 127.0.0.1:8091, where its checks and status source point.
  const port = await freePort()
  cli = runCli(['demo'], { PORT: String(port) })
  await cli.waitForLine('demo ready')
  const url = `http://127.0.0.1:${port}`
  const checks = await waitFor(async () => {
    const body = (await (await request(`${url}/api/v1/metrics`)).body.json()) as { metrics: { checks: Record<string, { checkCount?: number; isHealthy: boolean }> } }
    const all = Object.values(body.metrics.checks)
    return all.length === 2 && all.every((c) => (c.checkCount ?? 0) >= 1) ? body.metrics.checks : undefined
  }, 20_000, 'both demo checks to have run')
  expect(Object.entries(checks).map(([name, c]) => [name, c.isHealthy])).toEqual([
    ['s3', true],
    ['lobby', true],
  ])
  const status = (await (await request(`${url}/api/public/demo/status`)).body.json()) as Record<string, unknown>
  expect(status).not.toHaveProperty('error')
  const complaints = cli.stdout.filter((l) => /"level":(40|50)/.test(l))
  expect(complaints).toEqual([])
  cli.proc.kill('SIGTERM')
  expect(await cli.exited).toBe(0)
})
