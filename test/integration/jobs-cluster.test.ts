/**
 * Cache jobs on Redis: a job survives its instance (killed with SIGKILL in the
 * middle of a run, resumed by a live instance without counting a file twice),
 * a graceful stop hands the job over at once, two instances never run one
 * job, a cancel reaches the instance running the job, events reach watchers
 * on other instances, the per-key limit is shared, and so is the cap on
 * queued jobs.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startGate } from '../helpers/gate.js'
import { jobsApi, KEY, tempRoot, type TempRoot } from '../helpers/job-files.js'
import { freePort, sleep, waitFor } from '../helpers/ports.js'
import { runCli } from '../helpers/process.js'
import { redisSuite } from '../helpers/redis-suite.js'
import { TestClient } from '../helpers/ws-client.js'

const { redis, clients } = redisSuite()
let root: TempRoot
beforeEach(async () => {
  root = await tempRoot()
})
afterEach(async () => {
  await root.remove()
})

const settings = (jobs: Record<string, unknown> = {}) => ({
  redisUrl: redis.url,
  auth: { apiKeys: [KEY] },
  rateLimit: { rps: 10_000, burst: 10_000 },
  jobs: { root: root.dir, leaseSeconds: 1, rateLimit: { perMinute: 100_000, readsPerMinute: 100_000 }, ...jobs },
})

const startedBy = (logs: string[], id: string) => logs.filter((l) => l.includes('"job started"') && l.includes(id))

describe('cache jobs on Redis', () => {
  it('resumes the job of a killed instance on a live one, counting every file once', async () => {
    for (let i = 0; i < 8; i++) await root.file(`m/f${i}.bin`, 250_000)
    const port = await freePort()
    const config = join(root.dir, '..', `${root.dir.split('/').pop()}.yaml`)
    writeFileSync(
      config,
      JSON.stringify({
        ...settings({ maxBytesPerSecond: 500_000, concurrency: 1, progressFileThreshold: 1 }),
        port,
        host: '127.0.0.1',
      }),
    )
    const victim = runCli(['start', '--config', config])
    try {
      await victim.waitForLine('roomgate listening')
      const api = jobsApi(`http://127.0.0.1:${port}`)
      const { body } = await api.create({ directories: ['m'] })
      // Let it write some progress, then kill it without a chance to clean up.
      await waitFor(async () => (await api.get(body.jobId)).body.job.progress.files.completed >= 2, 10_000)
      victim.proc.kill('SIGKILL')
      await victim.exited

      const live = await startGate(settings())
      const liveApi = jobsApi(live.url)
      const before = (await liveApi.get(body.jobId)).body.job
      expect(before.status).toBe('running')
      const job = await waitFor(async () => {
        const j = (await liveApi.get(body.jobId)).body.job
        return j.status === 'completed' ? j : undefined
      }, 15_000)
      expect(job.progress.files).toMatchObject({ completed: 8, failed: 0, total: 8 })
      expect(job.progress.size.completedBytes).toBe(2_000_000)
      const resumed = startedBy(live.logs, body.jobId)
      expect(resumed).toHaveLength(1)
      expect(resumed[0]).toContain('"resumed":true')
    } finally {
      victim.proc.kill('SIGKILL')
    }
  })

  it('hands a running job to another instance at once on a graceful stop', async () => {
    // 8 × 300 KB at 400 KB/s: about 6 s, far longer than the hand-over below.
    for (let i = 0; i < 8; i++) await root.file(`g/f${i}.bin`, 300_000)
    const a = await startGate(settings({ maxBytesPerSecond: 400_000, concurrency: 1, leaseSeconds: 60 }))
    const api = jobsApi(a.url)
    const { body } = await api.create({ directories: ['g'] })
    await waitFor(async () => (await api.get(body.jobId)).body.job.progress.files.completed >= 1, 10_000)
    const b = await startGate(settings({ leaseSeconds: 60 }))
    await a.close()
    expect(a.logs.some((l) => l.includes('job released for another instance'))).toBe(true)
    const job = await waitFor(async () => {
      const j = (await jobsApi(b.url).get(body.jobId)).body.job
      return j.status === 'completed' ? j : undefined
    }, 10_000)
    expect(job.progress.files.completed).toBe(8)
    expect(startedBy(b.logs, body.jobId)).toHaveLength(1)
  })

  it('runs each job on exactly one of two instances', async () => {
    for (let i = 0; i < 6; i++) await root.file(`j${i}/f.bin`, 50_000)
    const a = await startGate(settings())
    const b = await startGate(settings())
    const ids: string[] = []
    for (let i = 0; i < 6; i++) ids.push((await jobsApi(i % 2 ? a.url : b.url).create({ directories: [`j${i}`] })).body.jobId)
    for (const id of ids) {
      await waitFor(async () => (await jobsApi(a.url).get(id)).body.job.status === 'completed', 10_000)
      expect(startedBy(a.logs, id).length + startedBy(b.logs, id).length).toBe(1)
    }
  })

  it('stops a job running on one instance when it is cancelled on another, and tells watchers everywhere', async () => {
    await root.file('c/big.bin', 5_000_000)
    const a = await startGate(settings({ maxBytesPerSecond: 500_000 }))
    const api = jobsApi(a.url)
    const { body } = await api.create({ directories: ['c'] })
    await waitFor(async () => (await api.get(body.jobId)).body.job.status === 'running')
    const b = await startGate(settings())
    const watcher = await TestClient.connect(`${b.wsUrl}/ws?device_id=w`)
    clients.push(watcher)
    await watcher.request('job.subscribe', { job_id: body.jobId, api_key: KEY })
    await watcher.next((m) => m.event === 'job.progress' && m.data.status === 'running', 5_000)
    expect((await jobsApi(b.url).cancel(body.jobId)).status).toBe(200)
    await watcher.next((m) => m.event === 'job.progress' && m.data.status === 'cancelled', 3_000)
    await waitFor(() => a.logs.some((l) => l.includes('"job stopped"') && l.includes('cancelled')), 1_000)
    const read = async () => Number((await (await fetch(`${a.url}/metrics`)).text()).match(/^roomgate_job_bytes_read_total (\d+)/m)?.[1])
    const after = await read()
    await sleep(800)
    expect(await read()).toBe(after)
  })

  // Issue 11: each request counted the queue, then created, so instances answering at once passed the cap together.
  it('creates exactly jobs.maxQueued jobs when two instances are asked at once, and answers the rest 503 queue_full', async () => {
    await root.file('q/big.bin', 5_000_000)
    // Slow reads: the jobs stay pending or running, so all of them count against the cap.
    const jobs = { maxQueued: 3, maxBytesPerSecond: 100_000 }
    const a = await startGate(settings(jobs))
    const b = await startGate(settings(jobs))
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => jobsApi(i % 2 ? a.url : b.url).create({ directories: ['q'] })))
    expect(answers.filter((r) => r.status === 201)).toHaveLength(3)
    const refused = answers.filter((r) => r.status !== 201)
    expect(refused).toHaveLength(7)
    for (const r of refused) expect(r).toMatchObject({ status: 503, body: { success: false, code: 'queue_full' } })
    expect((await jobsApi(a.url).list()).body.total).toBe(3)
  })

  it('shares the per-key read limit between instances', async () => {
    const a = await startGate(settings({ rateLimit: { readsPerMinute: 4 } }))
    const b = await startGate(settings({ rateLimit: { readsPerMinute: 4 } }))
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) statuses.push((await jobsApi(i % 2 ? a.url : b.url).list()).status)
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429])
  })
})
