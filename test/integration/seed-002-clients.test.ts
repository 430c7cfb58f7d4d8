/**
 * Seed 002's own client code, run unchanged against roomgate (only the URLs
 * point at the test instance): the Node.js axios client, the WebSocket
 * MetricsMonitor class, the Python client, and the React dashboard's
 * message handling. The per-key limit is 60 a minute here (the seed's 10 is
 * tested in jobs-api.test.ts): these clients share one key.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import axios from 'axios'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeS3, type FakeS3 } from '../helpers/fake-s3.js'
import { closeGates, startGate, type TestGate } from '../helpers/gate.js'
import { tempRoot, type TempRoot } from '../helpers/job-files.js'
import { sleep, waitFor } from '../helpers/ports.js'

const execFileP = promisify(execFile)
let root: TempRoot
let s3: FakeS3
let gate: TestGate
let API_URL: string
const API_KEY = 'demo-api-key-2024'

beforeAll(async () => {
  root = await tempRoot()
  await root.file('00_Media/Farm/ProRes422/Farm00103.mov', 700_000)
  await root.file('00_Media/Farm/ProRes422/Farm00104.mov', 300_000)
  await root.file('00_Media/Farm/Farm00001.mov', 100_000)
  s3 = await startFakeS3({ buckets: ['your-s3-bucket'], accessKeyId: 'AKIDSEED', secretAccessKey: 'seed-secret' })
  gate = await startGate(
    // The default per-key limits: the seed's clients must work under them.
    { jobs: { root: root.dir } },
    {
      API_GATEWAY_KEY: API_KEY,
      S3_HEALTH_BUCKET: 'your-s3-bucket',
      S3_REGION: 'us-east-1',
      S3_ENDPOINT: s3.url,
      S3_CHECK_INTERVAL: '200',
      AWS_ACCESS_KEY_ID: 'AKIDSEED',
      AWS_SECRET_ACCESS_KEY: 'seed-secret',
    },
  )
  API_URL = `${gate.url}/api/v1`
})
afterAll(async () => {
  await closeGates()
  await s3.close()
  await root.remove()
})

describe("seed 002's Node.js client", () => {
  // Verbatim from the seed, but for `return` of the error path's value.
  async function createCacheJob(files: string[] = [], directories: string[] = []): Promise<any> {
    try {
      const response = await axios.post(
        `${API_URL}/cache/jobs`,
        { files, directories },
        {
          headers: {
            'X-API-Key': API_KEY,
            'Content-Type': 'application/json'
          }
        }
      );

      console.log(`Job created: ${response.data.jobId}`);
      console.log(`Total size: ${response.data.totalSize.readable}`);
      return response.data;
    } catch (error: any) {
      console.error('Error creating job:', error.response?.data || error.message);
      return error.response?.data
    }
  }

  async function monitorJob(jobId: string): Promise<any> {
    try {
      const response = await axios.get(
        `${API_URL}/cache/jobs/${jobId}`,
        {
          headers: { 'X-API-Key': API_KEY }
        }
      );

      const job = response.data.job;
      const progress = job.progress;

      console.log(`Files: ${progress.files.completed}/${progress.files.total}`);
      console.log(`Size: ${progress.size.completedReadable}/${progress.size.totalReadable}`);

      if (job.throughput) {
        console.log(`Speed: ${job.throughput.readable}`);
      }

      return job;
    } catch (error: any) {
      console.error('Error getting job status:', error.response?.data || error.message);
    }
  }

  it('creates a job and follows it to the end', async () => {
    const created = await createCacheJob(['00_Media/Farm/ProRes422/Farm00103.mov'], ['00_Media/Farm/ProRes422'])
    expect(created).toMatchObject({ success: true, status: 'pending', totalFiles: 2, totalSize: { bytes: 1_000_000, readable: '976.56 KB' } })
    let job
    for (let i = 0; i < 20 && job?.status !== 'completed'; i++) {
      await sleep(250)
      job = await monitorJob(created.jobId)
    }
    expect(job.progress.files).toEqual({ completed: 2, failed: 0, total: 2, percentage: 100 })
    expect(job.progress.size.completedReadable).toBe('976.56 KB')
  })

  it("gets the seed's error for a path with nothing behind it", async () => {
    expect(await createCacheJob(['00_Media/nothing.mov'])).toMatchObject({ success: false, error: 'No files found' })
  })
})

describe("seed 002's Python client", () => {
  it('creates a job and polls it to the end (python3 with requests, as the seed runs it)', async () => {
    const script = fileURLToPath(new URL('../fixtures/seed-002-client.py', import.meta.url))
    const { stdout } = await execFileP('python3', [script], { env: { ...process.env, API_URL }, timeout: 20_000 })
    const lines = stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^Created job: [0-9a-f-]{36}$/)
    expect(lines[1]).toBe('Total size: 1.05 MB')
    expect(JSON.parse(lines.at(-1)!)).toEqual({ final: 'completed', files: { completed: 3, failed: 0, total: 3, percentage: 100 } })
  })
})

describe("seed 002's WebSocket clients", () => {
  it('MetricsMonitor gets the initial metrics and the S3 health updates', async () => {
    // Verbatim from the seed (TypeScript annotations aside; no reconnect once the test closes it).
    class MetricsMonitor {
      url: string; ws: any; metrics: any; closed = false
      constructor(url = 'ws://localhost:8095/ws') {
        this.url = url;
        this.ws = null;
        this.metrics = {
          lucidLink: null,
          s3Health: null
        };
      }

      connect() {
        this.ws = new WebSocket(this.url);

        this.ws.on('open', () => {
          console.log('Connected to metrics WebSocket');
        });

        this.ws.on('message', (data: any) => {
          const message = JSON.parse(data);

          switch(message.type) {
            case 'metrics':
              // Initial full metrics
              this.metrics.lucidLink = message.lucidLink;
              this.metrics.s3Health = message.s3Health;
              console.log('Initial metrics received');
              break;

            case 'lucidlink-stats':
              // Real-time throughput update
              this.metrics.lucidLink = message.lucidLink;
              console.log(`LucidLink: ${message.lucidLink.throughputMbps} MB/s`);
              break;

            case 's3-health':
              // S3 health update
              this.metrics.s3Health = message.s3Health;
              console.log(`S3 Latency: ${message.s3Health.latency}ms (avg: ${message.s3Health.averageLatency}ms)`);
              break;
          }
        });

        this.ws.on('close', () => {
          console.log('Disconnected from metrics WebSocket');
          if (!this.closed) setTimeout(() => this.connect(), 5000);
        });

        this.ws.on('error', (error: any) => {
          console.error('WebSocket error:', error);
        });
      }

      getMetrics() {
        return this.metrics;
      }

      close() {
        this.closed = true
        if (this.ws) {
          this.ws.close();
        }
      }
    }

    const monitor = new MetricsMonitor(`${gate.wsUrl}/ws`)
    monitor.connect()
    try {
      const m = await waitFor(() => (monitor.getMetrics().s3Health?.checkCount >= 2 ? monitor.getMetrics() : undefined))
      expect(m.lucidLink).toMatchObject({ throughputMbps: expect.any(Number) })
      expect(m.s3Health).toMatchObject({ isHealthy: true, region: 'us-east-1', latency: expect.any(Number), averageLatency: expect.any(Number) })
    } finally {
      monitor.close()
    }
  })

  it("the React dashboard's handler renders what it receives", async () => {
    let metrics: any = { lucidLink: { throughputMbps: 0 }, s3Health: { latency: null, averageLatency: null, isHealthy: false } }
    const setMetrics = (f: (prev: any) => any) => (metrics = f(metrics))
    const rendered: string[] = []
    const ws = new WebSocket(`${gate.wsUrl}/ws`)
    // The seed's onmessage, then what its JSX reads.
    ws.onmessage = (event: any) => {
      const data = JSON.parse(event.data);

      switch(data.type) {
        case 'metrics':
        case 'lucidlink-stats':
          if (data.lucidLink) {
            setMetrics(prev => ({ ...prev, lucidLink: data.lucidLink }));
          }
          break;
        case 's3-health':
          if (data.s3Health) {
            setMetrics(prev => ({ ...prev, s3Health: data.s3Health }));
          }
          break;
      }
      rendered.push(`${metrics.lucidLink.throughputMbps.toFixed(2)} MB/s | ${metrics.s3Health.isHealthy ? 'Healthy' : 'Unhealthy'} ${metrics.s3Health.latency}ms`)
    };
    try {
      await waitFor(() => rendered.some((r) => /^\d+\.\d\d MB\/s \| Healthy \d+ms$/.test(r)))
    } finally {
      ws.close()
    }
  })
})

describe("seed 002's curl examples", () => {
  it('GET /api/v1/health', async () => {
    const res = await axios.get(`${API_URL}/health`)
    expect(res.data).toMatchObject({ success: true, status: 'healthy', database: 'connected' })
  })

  it('GET /api/v1/metrics and /api/v1/metrics/s3', async () => {
    const metrics = (await axios.get(`${API_URL}/metrics`)).data
    expect(metrics.metrics.s3Health).toMatchObject({ isHealthy: true, checkCount: expect.any(Number), region: 'us-east-1' })
    const detail = (await axios.get(`${API_URL}/metrics/s3`)).data
    expect(Array.isArray(detail.s3Health.latencyHistory)).toBe(true)
  })
})
