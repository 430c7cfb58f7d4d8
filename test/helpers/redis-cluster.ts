/**
 * A private Redis Cluster for a test file: three masters with one replica
 * each (`redis-server --cluster-enabled yes` on free ports, joined by
 * `redis-cli --cluster create`), in a temporary directory. A test can kill a
 * master, wait for its replica to take over, and start the killed node again.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Cluster, Redis } from 'ioredis'
import { freePort, sleep, waitFor } from './ports.js'

const NODES = 6
// Generous: on a loaded machine the first syncs and the gossip take a while; a healthy cluster ends the wait at once.
const TIMEOUT_MS = 90_000

interface Node {
  port: number
  proc: ChildProcess | undefined
  /** Frozen with SIGSTOP: asked nothing until resumed. */
  paused?: boolean
}

export class RedisCluster {
  private readonly nodes: Node[] = []
  private dir = ''

  /** `host:port` of every node, as REDIS_CLUSTER_NODES takes them. */
  get seeds(): string[] {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`)
  }

  /** The environment a roomgate process needs to use this cluster. */
  get env(): Record<string, string> {
    return { REDIS_CLUSTER_NODES: this.seeds.join(',') }
  }

  async start(): Promise<this> {
    this.dir = mkdtempSync(join(tmpdir(), 'roomgate-cluster-'))
    for (let i = 0; i < NODES; i++) this.nodes.push({ port: await freePort(), proc: undefined })
    for (const n of this.nodes) this.spawn(n)
    for (const n of this.nodes) await waitFor(() => this.ping(n.port), TIMEOUT_MS, `cluster node ${n.port}`)
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...this.seeds, '--cluster-replicas', '1', '--cluster-yes'], {
      encoding: 'utf8',
      timeout: TIMEOUT_MS,
    })
    if (create.error) throw new Error(`redis-cli failed to run: ${create.error.message}`)
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${create.stdout}\n${create.stderr}`)
    await waitFor(() => this.healthy(), TIMEOUT_MS, 'the cluster to be ok with a replica per master')
    return this
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.killNode(n)))
    if (this.dir && !process.env.KEEP) rmSync(this.dir, { recursive: true, force: true })
  }

  /** A cluster client for assertions; the caller quits it. */
  client(): Cluster {
    return new Cluster(this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })), { redisOptions: { maxRetriesPerRequest: 1 } })
  }

  /** Empties every master (FLUSHALL reaches one node only). */
  async flushAll(): Promise<void> {
    for (const port of await this.masters()) await this.on(port, (c) => c.flushall())
  }

  /** The master serving `key`'s slot. */
  async masterOf(key: string): Promise<number> {
    const slot = await this.any((c) => c.call('CLUSTER', 'KEYSLOT', key)) as number
    const slots = (await this.any((c) => c.call('CLUSTER', 'SLOTS'))) as Array<[number, number, [string, number]]>
    const range = slots.find(([from, to]) => slot >= from && slot <= to)
    if (!range) throw new Error(`no master serves slot ${slot}`)
    return range[2][1]
  }

  /**
   * SIGKILLs the master on `port` and waits until its replica has taken its
   * slots over and the cluster is ok again.
   */
  async killMaster(port: number): Promise<void> {
    await this.kill(port)
    await this.failedOver(port)
  }

  /** SIGKILLs the node on `port` (no goodbye to anyone) and waits for it to exit. */
  async kill(port: number): Promise<void> {
    await this.killNode(this.node(port))
  }

  /** Waits until the killed master on `port` is replaced and the cluster is ok. */
  async failedOver(port: number): Promise<void> {
    await waitFor(async () => !(await this.masters()).includes(port) && (await this.state()) === 'ok', TIMEOUT_MS, `failover of ${port}`)
  }

  /** Freezes the node on `port` (SIGSTOP): its sockets stay open, it reads nothing. */
  pause(port: number): void {
    const node = this.node(port)
    node.paused = true
    node.proc?.kill('SIGSTOP')
  }

  resume(port: number): void {
    const node = this.node(port)
    node.paused = false
    node.proc?.kill('SIGCONT')
  }

  /** The port of the replica of the master on `port`. */
  async replicaOf(port: number): Promise<number> {
    const lines = String(await this.any((c) => c.call('CLUSTER', 'NODES'))).trim().split('\n').map((l) => l.split(' '))
    const master = lines.find((f) => f[1]?.startsWith(`127.0.0.1:${port}@`))
    const replica = lines.find((f) => f[2]?.includes('slave') && f[3] === master?.[0])
    if (!replica) throw new Error(`no replica of ${port}`)
    return Number(/:(\d+)@/.exec(replica[1]!)?.[1])
  }

  /**
   * Starts every killed node again, on its port and with its cluster config:
   * a master that was failed over comes back as a replica of the one that
   * replaced it. Waits until each master has a synced replica again.
   */
  async restartKilled(): Promise<void> {
    const killed = this.nodes.filter((n) => !n.proc)
    if (killed.length === 0) return
    for (const n of killed) this.spawn(n)
    for (const n of killed) await waitFor(() => this.ping(n.port), TIMEOUT_MS, `cluster node ${n.port} to restart`)
    await waitFor(() => this.healthy(), TIMEOUT_MS, 'the restarted nodes to be synced replicas')
  }

  /** Ports of the masters that serve slots, as a live node sees them. */
  async masters(): Promise<number[]> {
    const slots = (await this.any((c) => c.call('CLUSTER', 'SLOTS'))) as Array<[number, number, [string, number]]>
    return [...new Set(slots.map((s) => s[2][1]))]
  }

  private node(port: number): Node {
    const node = this.nodes.find((n) => n.port === port)
    if (!node) throw new Error(`no node on ${port}`)
    return node
  }

  private spawn(n: Node): void {
    n.proc = spawn(
      'redis-server',
      [
        '--port', String(n.port),
        '--bind', '127.0.0.1',
        '--protected-mode', 'no',
        '--cluster-enabled', 'yes',
        '--cluster-config-file', `nodes-${n.port}.conf`,
        // Small, so a killed master is replaced within a couple of seconds.
        '--cluster-node-timeout', '1000',
        // A replica whose master is gone takes over however long it was cut off.
        '--cluster-replica-validity-factor', '0',
        '--repl-diskless-sync-delay', '0',
        '--save', '',
        '--appendonly', 'no',
        '--dir', this.dir,
        '--logfile', `node-${n.port}.log`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    n.proc.once('error', (err) => {
      throw new Error(`redis-server failed to start (is it installed?): ${err.message}`)
    })
  }

  private async killNode(n: Node): Promise<void> {
    const proc = n.proc
    n.proc = undefined
    n.paused = false
    if (!proc || proc.exitCode !== null) return
    const exited = new Promise((r) => proc.once('exit', r))
    proc.kill('SIGKILL')
    await exited
  }

  private async healthy(): Promise<boolean> {
    if ((await this.state()) !== 'ok') return false
    const nodes = String(await this.any((c) => c.call('CLUSTER', 'NODES')))
    const replicas = nodes
      .trim()
      .split('\n')
      .filter((l) => l.includes('slave') && !l.includes('fail'))
      .map((l) => Number(/:(\d+)@/.exec(l)?.[1]))
    if (replicas.length !== 3) return false
    // A replica takes over only with a copy of its master: each must have finished its first sync.
    for (const port of replicas) {
      const info = await this.on(port, (c) => c.info('replication')).catch(() => '')
      if (!info.includes('master_link_status:up')) return false
    }
    return true
  }

  private async state(): Promise<string | undefined> {
    const info = String(await this.any((c) => c.call('CLUSTER', 'INFO')))
    return /cluster_state:(\w+)/.exec(info)?.[1]
  }

  /** Runs `fn` on the first live node that answers. */
  private async any<T>(fn: (c: Redis) => Promise<T>): Promise<T | undefined> {
    for (const n of this.nodes) {
      if (!n.proc || n.paused) continue
      try {
        return await this.on(n.port, fn)
      } catch {
        // try the next one
      }
    }
    return undefined
  }

  private async on<T>(port: number, fn: (c: Redis) => Promise<T>): Promise<T> {
    const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    c.on('error', () => undefined)
    try {
      await c.connect()
      return await fn(c)
    } finally {
      c.disconnect()
    }
  }

  private async ping(port: number): Promise<boolean> {
    try {
      return (await this.on(port, (c) => c.ping())) === 'PONG'
    } catch {
      await sleep(20)
      return false
    }
  }
}
