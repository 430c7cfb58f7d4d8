/**
 * A private redis-server for one test file, on a free port, that a test can
 * kill and restart (same port) to exercise outages.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { Redis } from 'ioredis'
import { freePort, sleep } from './ports.js'

export class RedisServer {
  private proc: ChildProcess | undefined
  port = 0

  /** `password`: the server requires it (`--requirepass`); `url` then carries it. */
  constructor(private readonly password?: string) {}

  get url(): string {
    return `redis://${this.password === undefined ? '' : `:${this.password}@`}127.0.0.1:${this.port}`
  }

  async start(): Promise<this> {
    if (this.port === 0) this.port = await freePort()
    const proc = spawn(
      'redis-server',
      [
        ...['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
        ...(this.password === undefined ? [] : ['--requirepass', this.password]),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    this.proc = proc
    let failed: Error | undefined
    proc.once('error', (err) => (failed = err))
    for (let i = 0; i < 100; i++) {
      if (failed) throw new Error(`redis-server failed to start: ${failed.message}`)
      if (await this.ping()) return this
      await sleep(50)
    }
    throw new Error(`redis-server did not answer on port ${this.port}`)
  }

  /** Kills the server (SIGKILL: no goodbye to clients) and waits for it to exit. */
  async kill(): Promise<void> {
    const proc = this.proc
    if (!proc || proc.exitCode !== null) return
    const exited = new Promise((r) => proc.once('exit', r))
    proc.kill('SIGCONT')
    proc.kill('SIGKILL')
    await exited
    this.proc = undefined
  }

  /** Freezes the server (SIGSTOP): sockets stay open, nothing answers. */
  pause(): void {
    this.proc?.kill('SIGSTOP')
  }

  resume(): void {
    this.proc?.kill('SIGCONT')
  }

  async restart(): Promise<void> {
    await this.kill()
    await this.start()
  }

  async stop(): Promise<void> {
    await this.kill()
  }

  /** A plain client for assertions; the caller quits it. */
  client(): Redis {
    return new Redis(this.url, { lazyConnect: false, maxRetriesPerRequest: 1 })
  }

  private async ping(): Promise<boolean> {
    const c = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    c.on('error', () => undefined)
    try {
      await c.connect()
      return (await c.ping()) === 'PONG'
    } catch {
      return false
    } finally {
      c.disconnect()
    }
  }
}
