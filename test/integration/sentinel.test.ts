/**
 * Redis behind Sentinel (issue 15): roomgate finds the master through the
 * sentinels and follows a failover by itself. A real master, replica and
 * sentinel on free ports; the master is killed mid-test.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { request } from 'undici'
import { closeGates, startGate } from '../helpers/gate.js'
import { freePort, waitFor } from '../helpers/ports.js'
import { TestClient } from '../helpers/ws-client.js'

const procs: ChildProcess[] = []
const dir = mkdtempSync(join(tmpdir(), 'roomgate-sentinel-'))
let master = 0
let replica = 0
let sentinel = 0

function run(args: string[]): ChildProcess {
  const p = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  procs.push(p)
  return p
}

async function answers(port: number, check: (c: Redis) => Promise<boolean>): Promise<void> {
  await waitFor(
    async () => {
      const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      c.on('error', () => undefined)
      try {
        await c.connect()
        return await check(c)
      } catch {
        return false
      } finally {
        c.disconnect()
      }
    },
    20_000,
    `redis on ${port}`,
  )
}

const masterOf = async (c: Redis) => ((await c.call('SENTINEL', 'get-master-addr-by-name', 'mymaster')) as string[] | null)?.[1]

beforeAll(async () => {
  ;[master, replica, sentinel] = [await freePort(), await freePort(), await freePort()]
  // --dir: a replica writes the master's snapshot to disk while it syncs; not into the checkout.
  const base = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--dir', dir]
  run(['--port', String(master), ...base])
  run(['--port', String(replica), ...base, '--replicaof', '127.0.0.1', String(master)])
  await answers(replica, async (c) => (await c.info('replication')).includes('master_link_status:up'))
  const conf = join(dir, 'sentinel.conf')
  writeFileSync(
    conf,
    [
      `port ${sentinel}`,
      'bind 127.0.0.1',
      'protected-mode no',
      `sentinel monitor mymaster 127.0.0.1 ${master} 1`,
      'sentinel down-after-milliseconds mymaster 1000',
      'sentinel failover-timeout mymaster 5000',
      '',
    ].join('\n'),
  )
  run([conf, '--sentinel'])
  await answers(sentinel, async (c) => (await masterOf(c)) === String(master))
}, 30_000)

afterAll(async () => {
  await closeGates()
  for (const p of procs) p.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

describe('Redis behind Sentinel', () => {
  it('finds the master through the sentinels, and follows a failover with no placement lost', async () => {
    const gate = await startGate({
      auth: { internalToken: 't' },
      redis: { sentinel: { sentinels: [`127.0.0.1:${sentinel}`], name: 'mymaster' }, commandTimeoutMs: 500 },
    })
    expect(gate.engine.kind).toBe('redis')
    const place = async (room: string) => {
      const res = await request(`${gate.url}/v2/room_server`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ room }),
      })
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, string> }
    }
    const before = await place('r1')
    expect(before.status).toBe(200)
    // What the master acknowledged has reached the replica before the kill (WAIT), so the failover keeps it.
    const m = new Redis({ port: master, host: '127.0.0.1' })
    await m.call('WAIT', '1', '2000')
    m.disconnect()

    procs[0]!.kill('SIGKILL')
    await answers(sentinel, async (c) => (await masterOf(c)) === String(replica))
    await waitFor(async () => (await request(`${gate.url}/readyz`)).statusCode === 200, 20_000, 'roomgate on the new master').catch((err: unknown) => {
      // What the engine said, for whoever reads a failure.
      console.log(gate.logs.filter((l) => /redis/i.test(l)).slice(-15).join('\n'))
      throw err
    })
    await waitFor(async () => (await place('r1')).status === 200, 20_000, 'placements on the new master')
    expect((await place('r1')).body).toEqual(before.body) // sticky: the placement survived
    // The bus follows too: a broadcast reaches a device.
    const c = await TestClient.connect(`${gate.wsUrl}/ws?device_id=d`)
    const res = await request(`${gate.url}/internal/broadcast`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-internal-token': 't' },
      body: JSON.stringify({ event: 'after.failover', data: {}, targets: { device_ids: ['d'] } }),
    })
    expect(res.statusCode).toBe(200)
    expect(await c.next()).toMatchObject({ event: 'after.failover' })
    c.close()
  }, 60_000)
})
