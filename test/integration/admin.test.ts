/**
 * The admin listener (issue 11): with `admin.port`, Prometheus metrics leave
 * the client port for a second listener (loopback by default) that also
 * answers the probes; without it, /metrics stays where a local Prometheus
 * finds it.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { closeGates, startGate } from '../helpers/gate.js'

afterEach(() => closeGates())

describe('admin listener', () => {
  it('serves /metrics, /healthz and /readyz on admin.port, and /metrics no longer on the client port', async () => {
    const gate = await startGate({ admin: { port: 0 } })
    expect(gate.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const metrics = await fetch(`${gate.adminUrl}/metrics`)
    expect(metrics.status).toBe(200)
    expect(await metrics.text()).toContain('roomgate_ws_connections')
    expect((await fetch(`${gate.adminUrl}/healthz`)).status).toBe(200)
    expect(await (await fetch(`${gate.adminUrl}/readyz`)).json()).toEqual({ status: 'ready' })
    const publicMetrics = await fetch(`${gate.url}/metrics`)
    expect({ status: publicMetrics.status, code: ((await publicMetrics.json()) as { code: string }).code }).toEqual({ status: 404, code: 'not_found' })
    // The client port keeps the probes a load balancer needs.
    expect((await fetch(`${gate.url}/readyz`)).status).toBe(200)
  })

  it('keeps /metrics on the client port when admin.port is unset', async () => {
    const gate = await startGate({})
    expect(gate.adminUrl).toBeUndefined()
    expect((await fetch(`${gate.url}/metrics`)).status).toBe(200)
  })

  it('stops the admin listener with the instance', async () => {
    const gate = await startGate({ admin: { port: 0 } })
    const url = gate.adminUrl!
    await gate.close()
    await expect(fetch(`${url}/healthz`)).rejects.toThrow()
  })
})
