/**
 * Seed 002's job API on the memory engine, against real files in a temporary
 * root: the seed's requests and answers, its error strings, path rules, the
 * worker's counts, cancel, and job events over /ws.
 */
import { mkdir, open, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { closeGates, startGate } from '../helpers/gate.js'
import { jobsApi, KEY, tempRoot, type TempRoot } from '../helpers/job-files.js'
import { sleep, waitFor } from '../helpers/ports.js'
import { TestClient } from '../helpers/ws-client.js'

let root: TempRoot
const clients: TestClient[] = []
beforeEach(async () => {
  root = await tempRoot()
})
afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  await closeGates()
  await root.remove()
})

// Tests poll: the per-key limit is raised unless a test is about it.
const gate = (jobs: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}) =>
  startGate(
    { auth: { apiKeys: [KEY] }, rateLimit: { rps: 10_000, burst: 10_000 }, jobs: { root: root.dir, rateLimit: { perMinute: 100_000, readsPerMinute: 100_000 }, ...jobs } },
    env,
  )

async function health(url: string) {
  const res = await fetch(`${url}/api/v1/health`)
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

async function finished(api: ReturnType<typeof jobsApi>, id: string) {
  return waitFor(async () => {
    const { body } = await api.get(id)
    return ['completed', 'failed', 'cancelled'].includes(body.job.status) ? body.job : undefined
  }, 10_000, `job ${id} to end`)
}

describe('cache jobs API', () => {
  it("creates a job from the seed's relative and absolute paths, warms every file once, and reports it in the seed's shapes", async () => {
    await root.file('00_Media/Farm/ProRes422/Farm00103.mov', 300_000)
    await root.file('00_Media/Farm/ProRes422/Farm00104.mov', 200_000)
    await root.file('00_Media/Farm/ProRes422/deeper/Farm00105.mov', 100_000)
    await root.file('00_Media/video.mp4', 50_000)
    const g = await gate({}, {})
    const api = jobsApi(g.url)
    const { status, body } = await api.create({
      files: [
        '00_Media/Farm/ProRes422/Farm00103.mov',
        '/Volumes/dmpfs/tc-east-1/00_Media/video.mp4',
        'C:\\dmpfs\\tc-east-1\\00_Media\\video.mp4',
        '/mnt/lucidlink/tc-east-1/00_Media/video.mp4',
      ],
      directories: ['00_Media/Farm/ProRes422'],
      recursive: true,
    })
    expect(status).toBe(201)
    expect(body).toEqual({
      success: true,
      jobId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: 'pending',
      totalFiles: 4,
      totalSize: { bytes: 650_000, readable: '634.77 KB' },
      message: 'Cache job created successfully',
      createdAt: expect.any(String),
    })
    const job = await finished(api, body.jobId)
    expect(job).toMatchObject({
      id: body.jobId,
      status: 'completed',
      totalFiles: 4,
      progress: {
        files: { completed: 4, failed: 0, total: 4, percentage: 100 },
        size: { completedBytes: 650_000, totalBytes: 650_000, completedReadable: '634.77 KB', totalReadable: '634.77 KB', percentage: 100 },
        percentage: 100,
      },
      throughput: null,
      error: null,
    })
    expect(Date.parse(job.startedAt)).toBeLessThanOrEqual(Date.parse(job.completedAt))

    const list = await api.list()
    expect(list.body).toEqual({
      success: true,
      total: 1,
      jobs: [
        expect.objectContaining({
          id: body.jobId,
          status: 'completed',
          totalFiles: 4,
          totalSizeBytes: 650_000,
          totalSizeReadable: '634.77 KB',
          completedFiles: 4,
          completedSizeBytes: 650_000,
          completedSizeReadable: '634.77 KB',
          createdAt: body.createdAt,
          completedAt: job.completedAt,
        }),
      ],
    })
    const bytesRead = (await (await fetch(`${g.url}/metrics`)).text()).match(/^roomgate_job_bytes_read_total (\d+)/m)
    expect(Number(bytesRead?.[1])).toBe(650_000)
  })

  it('reads only the top folder when recursive is false', async () => {
    await root.file('a/one.bin', 10)
    await root.file('a/b/two.bin', 10)
    const api = jobsApi((await gate()).url)
    expect((await api.create({ directories: ['a'], recursive: false })).body.totalFiles).toBe(1)
    expect((await api.create({ directories: ['a'] })).body.totalFiles).toBe(2)
  })

  it("answers the seed's errors word for word", async () => {
    await root.file('x.bin', 10)
    const g = await gate()
    const api = jobsApi(g.url)
    const noKey = await fetch(`${g.url}/api/v1/cache/jobs`)
    expect(noKey.status).toBe(401)
    expect(await noKey.json()).toMatchObject({ success: false, error: 'Invalid or missing API key' })
    expect((await jobsApi(g.url, 'wrong').list()).body).toMatchObject({ success: false, error: 'Invalid or missing API key' })
    expect(await api.get('not-a-uuid')).toMatchObject({ status: 400, body: { success: false, error: 'Invalid job ID format' } })
    expect(await api.cancel('12')).toMatchObject({ status: 400, body: { error: 'Invalid job ID format' } })
    expect(await api.get('6bb4629b-1487-477c-96fe-b762d82a099b')).toMatchObject({ status: 404, body: { success: false, error: 'Job not found' } })
    expect(await api.cancel('6bb4629b-1487-477c-96fe-b762d82a099b')).toMatchObject({ status: 404, body: { error: 'Job not found' } })
    expect(await api.create({ files: ['missing.mov'] })).toMatchObject({ status: 404, body: { success: false, error: 'No files found' } })
  })

  it('refuses paths that leave the root and bodies that are not the seed’s', async () => {
    await root.file('x.bin', 10)
    const api = jobsApi((await gate()).url)
    for (const path of ['../x.bin', '/etc/passwd', 'D:\\dmpfs\\tc-east-1\\x.bin', '\\\\server\\share\\x.bin', 'a\u0000b', '/mnt/lucidlink/tc-east-10/x.bin']) {
      const { status, body } = await api.create({ files: [path] })
      expect(status, path).toBe(400)
      expect(body.success).toBe(false)
    }
    for (const bad of [{ files: 'x.bin' }, { files: [1] }, { recursive: 'yes', files: ['x.bin'] }, { other: 1 }, {}, { files: [] }]) {
      expect((await api.create(bad)).status, JSON.stringify(bad)).toBe(400)
    }
  })

  it('limits each API key to jobs.rateLimit.perMinute creations and cancels, with Retry-After', async () => {
    await root.file('x.bin', 10)
    const g = await gate({ rateLimit: { perMinute: 3, readsPerMinute: 100_000 } })
    const api = jobsApi(g.url)
    for (let i = 0; i < 3; i++) expect((await api.create({ files: ['x.bin'] })).status).toBe(201)
    const refused = await api.create({ files: ['x.bin'] })
    expect(refused.status).toBe(429)
    expect(refused.body).toMatchObject({ success: false, error: 'Too many requests, please try again later' })
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    // Reads have their own budget: a poller is not refused because jobs were created.
    expect((await api.list()).status).toBe(200)
    // Another key has its own bucket.
    const g2keys = await startGate({ auth: { apiKeys: [KEY, 'second'] }, jobs: { root: root.dir, rateLimit: { perMinute: 1 } } })
    expect((await jobsApi(g2keys.url).create({ files: ['x.bin'] })).status).toBe(201)
    expect((await jobsApi(g2keys.url, 'second').create({ files: ['x.bin'] })).status).toBe(201)
  })

  it('limits reads per key with jobs.rateLimit.readsPerMinute, apart from creations', async () => {
    await root.file('x.bin', 10)
    const g = await gate({ rateLimit: { perMinute: 100_000, readsPerMinute: 3 } })
    const api = jobsApi(g.url)
    for (let i = 0; i < 3; i++) expect((await api.list()).status).toBe(200)
    const refused = await api.list()
    expect(refused.status).toBe(429)
    expect(refused.body).toMatchObject({ success: false, error: 'Too many requests, please try again later' })
    expect((await api.create({ files: ['x.bin'] })).status).toBe(201)
  })

  it('runs jobs once a jobs.root that was missing at start appears (a late mount)', async () => {
    const late = join(root.dir, 'mount')
    const g = await gate({ root: late })
    await waitFor(() => g.logs.some((l) => l.includes('jobs.root cannot be read')), 2_000, 'the unreadable root to be logged')
    const api = jobsApi(g.url)
    // Until it appears: creation names the root and why, and the health says so.
    const refused = await api.create({ directories: ['d'] })
    expect(refused.status).toBe(503)
    expect(refused.body).toMatchObject({ success: false, code: 'storage_unavailable', error: `jobs.root ${late} cannot be read on this instance: no such file or directory` })
    const degraded = await health(g.url)
    expect(degraded.status).toBe(200)
    expect(degraded.body).toMatchObject({ success: true, status: 'degraded', database: 'connected', storage: 'unreadable', storageError: `jobs.root ${late} cannot be read: no such file or directory` })
    await mkdir(join(late, 'd'), { recursive: true })
    await writeFile(join(late, 'd', 'a.bin'), Buffer.alloc(1_000, 1))
    const { status, body } = await api.create({ directories: ['d'] })
    expect(status).toBe(201)
    expect((await finished(api, body.jobId)).status).toBe('completed')
    expect(g.logs.some((l) => l.includes('jobs.root is readable again'))).toBe(true)
    expect((await health(g.url)).body).toMatchObject({ status: 'healthy', storage: 'readable' })
    expect((await health(g.url)).body).not.toHaveProperty('storageError')
  })

  it('takes API_GATEWAY_KEY besides auth.apiKeys', async () => {
    const g = await gate({}, { API_GATEWAY_KEY: 'from-env' })
    expect((await jobsApi(g.url, 'from-env').list()).status).toBe(200)
    expect((await jobsApi(g.url, KEY).list()).status).toBe(200)
  })

  it('refuses new jobs when no root is configured', async () => {
    const g = await startGate({ auth: { apiKeys: [KEY] } })
    const { status, body } = await jobsApi(g.url).create({ files: ['x'] })
    expect(status).toBe(503)
    expect(body.code).toBe('not_configured')
    expect((await health(g.url)).body).toMatchObject({ status: 'healthy', storage: 'not_configured' })
  })

  it('counts unreadable files as failed; a job where every file fails has failed', async () => {
    // One file at a time, 1 MB/s: the big first file gives time to remove the others before they are read.
    await root.file('d/a-big.bin', 400_000)
    const gone = await root.file('d/b-gone.bin', 10)
    const g = await gate({ maxBytesPerSecond: 1_000_000, concurrency: 1 })
    const api = jobsApi(g.url)
    const first = await api.create({ directories: ['d'] })
    const only = await root.file('e/only.bin', 10)
    const second = await api.create({ files: ['e/only.bin'] })
    await unlink(gone)
    await unlink(only)
    expect(await finished(api, first.body.jobId)).toMatchObject({
      status: 'completed',
      error: '1 of 2 files could not be read',
      progress: { files: { completed: 1, failed: 1, total: 2, percentage: 100 } },
    })
    expect(await finished(api, second.body.jobId)).toMatchObject({ status: 'failed', error: '1 of 1 files could not be read' })
  })

  it('cancels a running job: reads stop within a second, and a finished job cannot be cancelled', async () => {
    await root.file('big/a.bin', 4_000_000)
    await root.file('big/b.bin', 4_000_000)
    const g = await gate({ maxBytesPerSecond: 1_000_000, concurrency: 1 })
    const api = jobsApi(g.url)
    const { body } = await api.create({ directories: ['big'] })
    await waitFor(async () => (await api.get(body.jobId)).body.job.status === 'running')
    await sleep(300)
    expect(await api.cancel(body.jobId)).toMatchObject({ status: 200, body: { success: true, message: 'Job cancelled successfully' } })
    expect(await api.cancel(body.jobId)).toMatchObject({ status: 409, body: { error: 'Job is already cancelled' } })
    const readBytes = async () => Number((await (await fetch(`${g.url}/metrics`)).text()).match(/^roomgate_job_bytes_read_total (\d+)/m)?.[1])
    await sleep(1_000)
    const after = await readBytes()
    await sleep(1_000)
    expect(await readBytes()).toBe(after)
    expect(after).toBeLessThan(8_000_000)
    const job = (await api.get(body.jobId)).body.job
    expect(job.status).toBe('cancelled')
    expect(job.completedAt).not.toBeNull()

    await root.file('small.bin', 10)
    const small = await api.create({ files: ['small.bin'] })
    await finished(api, small.body.jobId)
    expect(await api.cancel(small.body.jobId)).toMatchObject({ status: 409, body: { success: false } })
  })

  it('cancels a job whose reads run on threads (no bandwidth cap) within a second', async () => {
    // A sparse 50 GB file: the thread would need seconds to read it all.
    const handle = await open(join(root.dir, 'huge.bin'), 'w')
    await handle.truncate(50 * 1024 ** 3)
    await handle.close()
    const g = await gate()
    const api = jobsApi(g.url)
    const { body } = await api.create({ files: ['huge.bin'] })
    await waitFor(async () => (await api.get(body.jobId)).body.job.status === 'running')
    await sleep(200)
    expect((await api.cancel(body.jobId)).status).toBe(200)
    const readBytes = async () => Number((await (await fetch(`${g.url}/metrics`)).text()).match(/^roomgate_job_bytes_read_total (\d+)/m)?.[1])
    await sleep(1_000)
    const after = await readBytes()
    await sleep(500)
    expect(await readBytes()).toBe(after)
    expect(after).toBeLessThan(50 * 1024 ** 3)
  })

  it('counts the bytes read inside a file before it finishes, keeps them when cancelled, and is exact at the end', async () => {
    await root.file('inside/a.bin', 4_000_000)
    await root.file('inside/b.bin', 4_000_000)
    const g = await gate({ maxBytesPerSecond: 1_000_000, concurrency: 1, progressTimeThresholdMs: 200 })
    const api = jobsApi(g.url)
    const { body } = await api.create({ directories: ['inside'] })
    // The first file takes about 4 s at the cap: its bytes show while no file has finished.
    const moving = await waitFor(async () => {
      const job = (await api.get(body.jobId)).body.job
      return job.progress.size.completedBytes > 0 ? job : undefined
    }, 10_000, 'bytes progress inside the first file')
    expect(moving.progress.files.completed).toBe(0)
    expect(moving.progress.size.percentage).toBeGreaterThan(0)
    const listed = (await api.list()).body.jobs.find((j: { id: string }) => j.id === body.jobId)
    expect(listed.completedSizeBytes).toBeGreaterThan(0)
    await api.cancel(body.jobId)
    const cancelled = (await finished(api, body.jobId))
    expect(cancelled.status).toBe('cancelled')
    expect(cancelled.progress.size.completedBytes).toBeGreaterThanOrEqual(moving.progress.size.completedBytes)

    const whole = await api.create({ directories: ['inside'] })
    const done = await finished(jobsApi(g.url), whole.body.jobId)
    expect(done.status).toBe('completed')
    expect(done.progress.size).toMatchObject({ completedBytes: 8_000_000, totalBytes: 8_000_000, percentage: 100 })
  })

  it('shows throughput while a job runs, from the worker when no backend reports it', async () => {
    await root.file('slow/a.bin', 3_000_000)
    const g = await gate({ maxBytesPerSecond: 1_000_000, progressTimeThresholdMs: 200 })
    const api = jobsApi(g.url)
    const { body } = await api.create({ directories: ['slow'] })
    const running = await waitFor(async () => {
      const job = (await api.get(body.jobId)).body.job
      return job.throughput ? job : undefined
    })
    expect(running.throughput.mbps).toBeGreaterThan(0.3)
    expect(running.throughput.mbps).toBeLessThan(2)
    expect(running.throughput.readable).toMatch(/^\d+(\.\d+)? MB\/s$/)
    expect(running.status).toBe('running')
    await api.cancel(body.jobId)
  })
})

describe('job events over /ws', () => {
  it('sends job.file for each file and job.progress to a subscriber with an API key', async () => {
    for (let i = 0; i < 5; i++) await root.file(`ev/f${i}.bin`, 1000 * (i + 1))
    const g = await gate({ maxBytesPerSecond: 20_000, progressFileThreshold: 2 })
    const api = jobsApi(g.url)
    const ws = await TestClient.connect(`${g.wsUrl}/ws?device_id=watcher`)
    clients.push(ws)
    const { body } = await api.create({ directories: ['ev'] })
    expect((await ws.request('job.subscribe', { job_id: body.jobId })).error).toMatchObject({ code: 'unauthorized' })
    expect((await ws.request('job.subscribe', { job_id: 'nope', api_key: KEY })).error).toMatchObject({ code: 'bad_request' })
    const sub = await ws.request('job.subscribe', { job_id: body.jobId, api_key: KEY })
    expect(sub.data).toMatchObject({ job_id: body.jobId, job: { id: body.jobId } })
    const done = await ws.next((m) => m.event === 'job.progress' && m.data.status === 'completed', 10_000)
    expect(done.data.progress.files).toMatchObject({ completed: 5, total: 5 })
    const files = ws.messages.filter((m) => m.event === 'job.file')
    expect(files.map((m) => m.data.path).sort()).toEqual(['ev/f0.bin', 'ev/f1.bin', 'ev/f2.bin', 'ev/f3.bin', 'ev/f4.bin'])
    expect(files[0]!.data).toMatchObject({ job_id: body.jobId, status: 'completed', size: expect.any(Number) })
  })

  it('lets a connection watch 32 jobs besides every job (*), and refuses a 33rd', async () => {
    await root.file('w/a.bin', 10)
    const g = await gate()
    const api = jobsApi(g.url)
    const ws = await TestClient.connect(`${g.wsUrl}/ws?device_id=many`)
    clients.push(ws)
    expect((await ws.request('job.subscribe', { job_id: '*', api_key: KEY })).type).toBe('response')
    const ids: string[] = []
    for (let i = 0; i < 33; i++) ids.push((await api.create({ files: ['w/a.bin'] })).body.jobId)
    for (const id of ids.slice(0, 32)) expect((await ws.request('job.subscribe', { job_id: id, api_key: KEY })).type).toBe('response')
    expect((await ws.request('job.subscribe', { job_id: ids[32], api_key: KEY })).error).toMatchObject({ code: 'bad_request' })
  })

  it("gives a dashboard (a connection that never identified) the seed's metrics feed, and a device only when it asks", async () => {
    await root.file('feed/a.bin', 2_000_000)
    const g = await gate({ maxBytesPerSecond: 1_000_000, progressTimeThresholdMs: 200 })
    const dashboard = await TestClient.connect(`${g.wsUrl}/ws`)
    const device = await TestClient.connect(`${g.wsUrl}/ws?device_id=d1`)
    clients.push(dashboard, device)
    const first = await dashboard.next()
    expect(first).toEqual({ type: 'metrics', lucidLink: { throughputMbps: 0, timestamp: null, source: 'none' }, s3Health: null })

    const { body } = await jobsApi(g.url).create({ directories: ['feed'] })
    const stats = await dashboard.next((m) => m.type === 'lucidlink-stats' && m.lucidLink.throughputMbps > 0, 5_000)
    expect(stats.lucidLink).toMatchObject({ source: 'workers', timestamp: expect.any(String) })
    expect(device.messages.filter((m) => m.type !== undefined && m.type !== 'response')).toEqual([])

    expect((await device.request('metrics.subscribe')).data).toEqual({ subscribed: true })
    expect(await device.next((m) => m.type === 'metrics')).toMatchObject({ lucidLink: { source: 'workers' } })
    await jobsApi(g.url).cancel(body.jobId)
  })
})
