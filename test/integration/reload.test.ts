/**
 * Config reload in one process, for what the process test (hot-reload.test.ts)
 * does not reach: event routes and the internal token, a status source
 * removed under its streams, the route on the admin listener and its
 * credentials, and the refusals (no config to read, shutting down).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { loadConfig } from '../../src/config/load.js'
import { startRoomgate } from '../../src/roomgate.js'
import { startClientApi, type FakeClientApi } from '../helpers/client-api.js'
import { closeGates, startGate } from '../helpers/gate.js'
import { silentLog } from '../helpers/log.js'
import { freePort } from '../helpers/ports.js'
import { SseClient } from '../helpers/sse-client.js'
import { sendJson, startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { TestClient } from '../helpers/ws-client.js'

const opened: Array<{ close(): unknown }> = []
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close()
  await closeGates()
})

async function service(name: string): Promise<TestUpstream> {
  const upstream = await startUpstream((req, res) => {
    req.resume()
    sendJson(res, 200, { service: name })
  })
  opened.push(upstream)
  return upstream
}

const broadcast = (url: string, token: string) =>
  request(`${url}/internal/broadcast`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-internal-token': token },
    body: JSON.stringify({ event: 'hello', data: {}, targets: { all: true } }),
  }).then(async (res) => ({ status: res.statusCode, body: (await res.body.json()) as { code?: string } }))

describe('config reload', () => {
  it('routes the next event by the new table, and checks the new internal token', async () => {
    const [lobby, other] = [await service('lobby'), await service('other')]
    const settings = { services: { lobby: { url: lobby.url }, other: { url: other.url } }, auth: { internalToken: 'first' } }
    const gate = await startGate(settings)
    const ws = await TestClient.connect(`${gate.wsUrl}/ws?device_id=d1`)
    opened.push(ws)
    expect((await ws.request('lobby.create')).data).toEqual({ service: 'lobby' })

    const result = await gate.reloadWith({
      ...settings,
      events: { routes: [{ match: ['lobby.*'], service: 'other' }] },
      auth: { internalToken: 'second' },
    })
    expect(result).toMatchObject({ outcome: 'applied', changed: ['auth.internalToken', 'events.routes'], restartOnly: [] })
    expect((await ws.request('lobby.create')).data).toEqual({ service: 'other' })
    expect((await broadcast(gate.url, 'first')).status).toBe(401)
    expect((await broadcast(gate.url, 'second')).status).toBe(200)

    await gate.reloadWith({ ...settings, auth: { internalToken: '' } })
    expect(await broadcast(gate.url, 'second')).toMatchObject({ status: 403, body: { code: 'forbidden' } })
  })

  it('ends the streams of a status source it removes; a reconnect gets 404, and the other source streams on', async () => {
    const api: FakeClientApi = await startClientApi()
    opened.push(api)
    api.units = [{ ref: 'U1', status: 'open' }]
    const source = (slug: string) => ({ slug, url: `${api.url}/units`, mapping: { sold: ['sold'] }, pollIntervalSeconds: 1, retryCount: 0 })
    const gate = await startGate({ status: { sources: [source('kept'), source('gone')] } })
    const [kept, gone] = await Promise.all(['kept', 'gone'].map((slug) => SseClient.connect(`${gate.url}/api/public/${slug}/status/stream`)))
    opened.push(kept!, gone!)
    await Promise.all([kept!.next((e) => e.event === 'status_update'), gone!.next((e) => e.event === 'status_update')])

    await gate.reloadWith({ status: { sources: [source('kept')] } })
    await gone!.closed
    expect((await request(`${gate.url}/api/public/gone/status`)).statusCode).toBe(404)
    api.units = [{ ref: 'U1', status: 'sold' }]
    expect((await kept!.next((e) => e.event === 'bulk_update')).data).toEqual({ updates: { U1: 'sold' } })
  })

  it('serves POST /admin/reload on the admin listener, behind a bearer token of auth.bearerTokens', async () => {
    const adminPort = await freePort()
    const gate = await startGate({ admin: { port: adminPort }, auth: { bearerTokens: ['op'] } })
    const reload = (token?: string) =>
      request(`http://127.0.0.1:${adminPort}/admin/reload`, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} })
    expect((await reload()).statusCode).toBe(401)
    expect((await reload('wrong')).statusCode).toBe(401)
    const ok = await reload('op')
    expect(ok.statusCode).toBe(200)
    const hash = (await (await request(`${gate.url}/healthz`)).body.json()) as { config: { hash: string } }
    expect(await ok.body.json()).toMatchObject({ outcome: 'applied', changed: [], restartOnly: [], hash: hash.config.hash })
    // Like /metrics, it leaves the client port.
    expect((await request(`${gate.url}/admin/reload`, { method: 'POST', headers: { authorization: 'Bearer op' } })).statusCode).toBe(404)
  })

  it('refuses a reload with nothing to read again, and one while shutting down', async () => {
    const config = loadConfig({ settings: { port: 0, host: '127.0.0.1' }, env: {} })
    const instance = await startRoomgate(config, { logger: silentLog, env: {} })
    opened.push(instance)
    expect(await instance.reload()).toMatchObject({ outcome: 'refused', problems: ['this instance was started without a config to read again'] })
    instance.server.beginClose()
    await expect(instance.reload()).rejects.toMatchObject({ code: 'shutting_down' })
  })
})
