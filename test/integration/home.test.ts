/** `GET /`: a browser is sent to the dashboard, anything else gets an index of where to go. */
import { afterAll, expect, it } from 'vitest'
import { request } from 'undici'
import { closeGates, startGate } from '../helpers/gate.js'

afterAll(closeGates)

it('redirects a browser to the dashboard', async () => {
  const g = await startGate()
  const res = await request(`${g.url}/`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } })
  expect(res.statusCode).toBe(302)
  expect(new URL(String(res.headers.location), `${g.url}/`).pathname).toBe('/dashboard')
  await res.body.dump()
  const page = await request(new URL(String(res.headers.location), `${g.url}/`))
  expect(page.statusCode).toBe(200)
  expect(String(page.headers['content-type'])).toContain('text/html')
  await page.body.dump()
})

it('answers anything else with where to go, /metrics only where it is served', async () => {
  const g = await startGate()
  const res = await request(`${g.url}/`)
  expect(res.statusCode).toBe(200)
  expect(await res.body.json()).toEqual({
    service: 'roomgate',
    version: expect.stringMatching(/^\d+\.\d+\.\d+/),
    dashboard: '/dashboard',
    docs: '/docs',
    openapi: '/docs/json',
    health: '/healthz',
    ready: '/readyz',
    metrics: '/metrics',
  })
  for (const path of ['/docs/json', '/healthz', '/readyz', '/metrics']) {
    const linked = await request(`${g.url}${path}`)
    expect([path, linked.statusCode]).toEqual([path, 200])
    await linked.body.dump()
  }
  const withAdmin = await startGate({ admin: { port: 0 } })
  expect(await (await request(`${withAdmin.url}/`)).body.json()).not.toHaveProperty('metrics')
})
