/**
 * Runs once before the suite: the integration tests need a `redis-server`
 * binary, the dashboard test needs Debian's Chromium, and the open-loop
 * client's test needs gcc. What is missing is
 * installed (Debian, as root) or the run fails loudly: a test that needs a
 * tool must never be skipped quietly.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

export const CHROMIUM = '/usr/bin/chromium'

function missing(): string[] {
  const out: string[] = []
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) out.push('redis-server')
  if (!existsSync(CHROMIUM)) out.push('chromium')
  if (spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status !== 0) out.push('gcc')
  return out
}

export default function setup(): void {
  if (missing().length === 0) return
  const r = spawnSync('bash', ['scripts/install-test-tools.sh'], { stdio: 'inherit' })
  const still = missing()
  if (r.status !== 0 || still.length > 0) {
    throw new Error(`${still.join(', ') || 'test tools'} required by the tests could not be installed (see scripts/install-test-tools.sh)`)
  }
}
