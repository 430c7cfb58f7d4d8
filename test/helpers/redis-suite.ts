/**
 * The set-up of a test file that runs several instances on one redis-server:
 * the server for the file, WebSocket clients closed and instances stopped after
 * each test, and Redis emptied so no test sees another's keys.
 */
import { afterAll, afterEach, beforeAll } from 'vitest'
import { closeGates } from './gate.js'
import { RedisCluster } from './redis-cluster.js'
import { RedisServer } from './redis-server.js'
import type { TestClient } from './ws-client.js'

export function redisSuite(): { redis: RedisServer; clients: TestClient[] } {
  const redis = new RedisServer()
  const clients: TestClient[] = []
  beforeAll(async () => {
    await redis.start()
  })
  afterAll(async () => {
    await redis.stop()
  })
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close()
    await closeGates()
    const c = redis.client()
    await c.flushall()
    c.disconnect()
  })
  return { redis, clients }
}

/**
 * The same for a test file on a Redis Cluster (three masters with a replica
 * each): one cluster for the file, emptied after each test.
 */
export function clusterSuite(): { cluster: RedisCluster; clients: TestClient[] } {
  const cluster = new RedisCluster()
  const clients: TestClient[] = []
  beforeAll(async () => {
    await cluster.start()
  }, 200_000)
  afterAll(async () => {
    await cluster.stop()
  })
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close()
    await closeGates()
    await cluster.flushAll()
  })
  return { cluster, clients }
}
