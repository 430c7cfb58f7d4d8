/**
 * Runs once before the suite: the integration tests need a `redis-server`
 * binary. If it is missing we install it (Debian, as root) or fail loudly:
 * a test that needs Redis must never be skipped quietly.
 */
import { spawnSync } from 'node:child_process'

function hasRedis(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0
}

export default function setup(): void {
  if (hasRedis()) return
  const r = spawnSync('bash', ['scripts/install-test-tools.sh'], { stdio: 'inherit' })
  if (r.status !== 0 || !hasRedis()) {
    throw new Error('redis-server is required by the integration tests and could not be installed (see scripts/install-test-tools.sh)')
  }
}
