/**
 * The dashboard end to end, in headless Chromium (Debian's, driven by
 * playwright-core): roomgate runs with real data (a cache job reading real
 * files under a bandwidth cap, a room with two users, a health check against
 * a closed port next to a passing one, status sources with subscribers) and
 * the test looks at the page as an operator would: nothing but the sign-in
 * form before a credential, an error for a wrong one, then every section,
 * live. A screenshot is kept in test-artifacts/dashboard.png.
 */
import { mkdir } from 'node:fs/promises'
import { type Browser, type ConsoleMessage, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from '../helpers/browser.js'
import { startClientApi, type FakeClientApi } from '../helpers/client-api.js'
import { closeGates, startGate, type TestGate } from '../helpers/gate.js'
import { jobsApi, KEY, tempRoot, type TempRoot } from '../helpers/job-files.js'
import { freePort } from '../helpers/ports.js'
import { SseClient } from '../helpers/sse-client.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

const TOKEN = 'e2e-dashboard-token'
const ROOM = 'lecture-42'
const SCREENSHOT = 'test-artifacts/dashboard.png'
const FILES = 40
const FILE_BYTES = 64 * 1024

let browser: Browser
let gate: TestGate
let root: TempRoot
let jobId: string
const apis: FakeClientApi[] = []
const streams: SseClient[] = []
const upstreams: TestUpstream[] = []

beforeAll(async () => {
  // Never skipped: a missing Chromium is a failure.
  const launching = launchChromium()

  root = await tempRoot()
  for (let i = 0; i < FILES; i++) await root.file(`shoot/clip-${String(i).padStart(2, '0')}.mov`, FILE_BYTES)
  const healthy = await startUpstream((_req, res) => res.end('ok'))
  upstreams.push(healthy)
  const closedPort = await freePort()
  const units = await startClientApi()
  units.units = [
    { ref: 'A-101', status: 'open' },
    { ref: 'A-102', status: 'sold' },
  ]
  const broken = await startClientApi()
  broken.failWith = 503
  apis.push(units, broken)

  gate = await startGate({
    auth: { bearerTokens: [TOKEN], apiKeys: [KEY] },
    rateLimit: { rps: 1000, burst: 1000 },
    rooms: { pools: { janus: { strategy: 'least-loaded', nodes: ['gxy1', 'gxy2', 'gxy3'], capacity: 20 } } },
    // ~2.5 MB at 160 KB/s: the job runs for the whole test.
    jobs: {
      root: root.dir,
      maxBytesPerSecond: 160 * 1024,
      concurrency: 2,
      progressFileThreshold: 1,
      progressTimeThresholdMs: 200,
      rateLimit: { perMinute: 1000 },
    },
    health: {
      intervalMs: 400,
      timeoutMs: 300,
      checks: [
        { name: 'media-api', kind: 'http', url: `http://127.0.0.1:${closedPort}/health` },
        { name: 'lobby', kind: 'http', url: `${healthy.url}/health` },
      ],
    },
    status: {
      sources: [
        { slug: 'tower-a', url: `${units.url}/units`, mapping: { available: ['open'], sold: ['sold'] }, pollIntervalSeconds: 1 },
        { slug: 'tower-b', url: `${broken.url}/units`, pollIntervalSeconds: 1, retryCount: 0 },
      ],
    },
  })

  for (const user of ['alice', 'bob']) {
    const res = await fetch(`${gate.url}/v2/rooms/${ROOM}/presence/${user}`, { method: 'PUT' })
    expect(res.status).toBe(200)
  }
  const created = await jobsApi(gate.url).create({ directories: ['shoot'] })
  expect(created.status).toBe(201)
  jobId = created.body.jobId
  streams.push(
    await SseClient.connect(`${gate.url}/api/public/tower-a/status/stream`),
    await SseClient.connect(`${gate.url}/api/public/tower-b/status/stream`),
  )
  browser = await launching
})

afterAll(async () => {
  await browser?.close()
  for (const s of streams.splice(0)) s.close()
  await closeGates()
  for (const a of apis.splice(0)) await a.close()
  for (const u of upstreams.splice(0)) await u.close()
  await root?.remove()
})

// These run in the page (the tests' tsconfig has no DOM types, hence the casts).
/** A <progress> or <meter> value, as the page has it. */
const valueOf = (e: unknown) => (e as { value: number }).value
/** The text colour the page shows an element in. */
const colorOf = (e: unknown) => (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(e).color

const progressValue = (page: Page, cell: string) => page.locator(`#jobs tr[data-job="${jobId}"] td.${cell} progress`).evaluate(valueOf)

describe('dashboard in a browser', () => {
  it('shows nothing before sign-in, refuses a wrong token, then shows rooms, devices, jobs, health, status and rate limits live', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    // Fail with the step that is stuck, long before the test's own timeout.
    page.setDefaultTimeout(5_000)
    const problems: string[] = []
    page.on('console', (m: ConsoleMessage) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`)
    })
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`))
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`)
    })

    const res = await page.goto(`${gate.url}/dashboard`)
    expect(res?.status()).toBe(200)
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'")

    // Before a credential: the form, and none of the data.
    await expect.poll(() => page.locator('#login-form').isVisible()).toBe(true)
    expect(await page.locator('#board').isVisible()).toBe(false)
    expect(await page.locator('#connection').textContent()).toBe('signed out')
    const before = await page.content()
    for (const secret of [ROOM, jobId, 'media-api', 'tower-a', 'gxy1']) expect(before).not.toContain(secret)

    // A wrong token: an error, still no data.
    await page.locator('#credential').fill('not-the-token')
    await page.locator('#login-submit').click()
    await expect.poll(() => page.locator('#login-error').textContent()).toMatch(/wrong token or key/i)
    expect(await page.locator('#board').isVisible()).toBe(false)
    expect(await page.content()).not.toContain(ROOM)

    // The right one.
    await page.locator('#credential').fill(TOKEN)
    await page.locator('#login-submit').click()
    const room = page.locator(`#rooms li[data-room="${ROOM}"]`)
    await room.waitFor({ state: 'visible', timeout: 5_000 })
    expect(await room.textContent()).toContain('2 users')
    expect(await page.locator('#login').isVisible()).toBe(false)
    expect(await page.locator('#connection').textContent()).toBe('live')
    expect(await page.locator('#summary').textContent()).toContain('1 instance')
    const node = page.locator('#rooms tr', { has: page.locator(`li[data-room="${ROOM}"]`) })
    expect(await node.locator('meter').evaluate(valueOf)).toBeCloseTo(0.1)
    expect(await node.locator('td.load').textContent()).toContain('10 %')

    // Devices: this instance, with the page's own connection.
    const self = page.locator(`#devices tr[data-instance="${gate.engine.instanceId}"]`)
    await self.waitFor()
    expect(await self.textContent()).toContain('this one')

    // The job runs, and its bars grow while the page watches (no reload).
    const job = page.locator(`#jobs tr[data-job="${jobId}"]`)
    await expect.poll(() => job.getAttribute('data-status'), { timeout: 5_000 }).toBe('running')
    const firstBytes = await progressValue(page, 'progress-bytes')
    await expect.poll(() => progressValue(page, 'progress-bytes'), { timeout: 6_000 }).toBeGreaterThan(firstBytes)
    expect(await progressValue(page, 'progress-files')).toBeGreaterThan(0)
    await expect.poll(() => job.locator('td').nth(4).textContent(), { timeout: 4_000 }).toMatch(/\/s$/)
    expect(await job.locator('td').nth(5).textContent()).toMatch(/\d+ (s|min)/)
    expect(await job.textContent()).toContain(`/ ${FILES} files`)

    // Health: the check on a closed port is failing, in red, with its error; both have a chart.
    const failing = page.locator('#health [data-check="media-api"]')
    await expect.poll(() => failing.getAttribute('data-state'), { timeout: 5_000 }).toBe('failing')
    expect(await failing.locator('.badge').textContent()).toBe('failing')
    expect(await failing.locator('p.error').textContent()).not.toBe('')
    expect(await failing.locator('h3').evaluate(colorOf)).toBe('rgb(185, 28, 28)')
    const passing = page.locator('#health [data-check="lobby"]')
    await expect.poll(() => passing.getAttribute('data-state')).toBe('ok')
    expect(await page.locator('#health .chart canvas').count()).toBe(2)
    expect(await passing.locator('.u-legend').textContent()).toContain('latency')

    // Status sources: subscribers, last poll, and the failing one's error.
    const towerA = page.locator('#status tr[data-slug="tower-a"]')
    await expect.poll(() => towerA.locator('td').nth(1).textContent()).toBe('1')
    await expect.poll(() => towerA.locator('td').nth(2).textContent()).not.toMatch(/^never/)
    const towerB = page.locator('#status tr[data-slug="tower-b"]')
    await expect.poll(() => towerB.getAttribute('class'), { timeout: 5_000 }).toBe('failing')
    expect(await towerB.locator('td').nth(4).textContent()).toMatch(/503/)

    // Rate limits, per scope.
    for (const scope of ['http', 'ws', 'jobs']) {
      expect(await page.locator(`#ratelimits tr[data-scope="${scope}"]`).count()).toBe(1)
    }

    // The socket drops: the page says so, reconnects and subscribes again by itself.
    gate.server.realtime.terminateAll()
    await expect.poll(() => page.locator('#connection').textContent(), { timeout: 3_000 }).toMatch(/retrying|reconnecting|connecting/)
    await expect.poll(() => page.locator('#connection').textContent(), { timeout: 5_000 }).toBe('live')
    const afterReconnect = await progressValue(page, 'progress-bytes')
    await expect.poll(() => progressValue(page, 'progress-bytes'), { timeout: 6_000 }).toBeGreaterThan(afterReconnect)

    await mkdir('test-artifacts', { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: true })

    // A reload keeps the session (sessionStorage); signing out clears the page.
    await page.reload()
    await page.locator(`#rooms li[data-room="${ROOM}"]`).waitFor({ timeout: 5_000 })
    expect(await page.locator('#login').isVisible()).toBe(false)
    await page.locator('#logout').click()
    expect(await page.locator('#login-form').isVisible()).toBe(true)
    expect(await page.content()).not.toContain(ROOM)

    expect(problems).toEqual([])
  })
})
