// A private Redis Cluster for a benchmark: three masters with a replica each
// on free ports in a temporary folder, joined by `redis-cli --cluster create`.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, sleep } from './lib.js'

function cli(port, ...args) {
  return spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout ?? ''
}

/** Resolves with {nodes: [{host, port}], stop()} once the cluster is ok and every replica has synced. */
export async function startRedisCluster() {
  const dir = mkdtempSync(join(tmpdir(), 'roomgate-bench-cluster-'))
  const ports = []
  for (let i = 0; i < 6; i++) ports.push(await freePort())
  const procs = ports.map((port) =>
    spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`,
        '--cluster-node-timeout', '1000', '--repl-diskless-sync-delay', '0', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    ),
  )
  const stop = () => {
    for (const p of procs) p.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    for (const port of ports) for (let i = 0; cli(port, 'ping').trim() !== 'PONG'; i++) if (i > 200) throw new Error(`redis-server ${port} did not start`); else await sleep(25)
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], { encoding: 'utf8' })
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`)
    for (let i = 0; ; i++) {
      const ok = cli(ports[0], 'cluster', 'info').includes('cluster_state:ok')
      const synced = ports.filter((p) => /role:slave[\s\S]*master_link_status:up/.test(cli(p, 'info', 'replication'))).length === 3
      if (ok && synced) break
      if (i > 400) throw new Error('the benchmark cluster did not become ok')
      await sleep(50)
    }
  } catch (err) {
    stop()
    throw err
  }
  return { nodes: ports.map((port) => ({ host: '127.0.0.1', port })), stop }
}
