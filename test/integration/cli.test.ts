/** The `roomgate` command: usage, exit codes, config errors that name the key. */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { request } from 'undici'
import { freePort } from '../helpers/ports.js'
import { runCli } from '../helpers/process.js'

const dir = mkdtempSync(join(tmpdir(), 'roomgate-cli-'))
function configFile(text: string): string {
  const p = join(dir, `c-${Math.random().toString(36).slice(2)}.yaml`)
  writeFileSync(p, text)
  return p
}

describe('roomgate CLI', () => {
  it('prints usage and version', async () => {
    const help = runCli(['--help'])
    expect(await help.exited).toBe(0)
    expect(help.stdout.join('\n')).toMatch(/Usage: roomgate <command>/)
    const version = runCli(['--version'])
    expect(await version.exited).toBe(0)
    expect(version.stdout[0]).toMatch(/^\d+\.\d+\.\d+$/)
  })

  it('exits 2 on an unknown command or option', async () => {
    expect(await runCli(['launch']).exited).toBe(2)
    expect(await runCli(['start', '--nope']).exited).toBe(2)
  })

  it('exits 2 with the dotted key when the config file has a bad value', async () => {
    const cli = runCli(['start', '--config', configFile('rateLimit:\n  rps: -5\n')])
    expect(await cli.exited).toBe(2)
    expect(cli.stderr.join('\n')).toMatch(/config error: rateLimit\.rps must be > 0/)
  })

  it('exits 2 naming the variable when an env var is bad', async () => {
    const cli = runCli(['start'], { RATE_LIMIT_BURST: 'lots' })
    expect(await cli.exited).toBe(2)
    expect(cli.stderr).toEqual(['roomgate: config error: RATE_LIMIT_BURST: rateLimit.burst must be a number, got "lots"'])
  })

  it('starts from a file with env overriding it, and stops on SIGINT', async () => {
    const port = await freePort()
    const file = configFile(`port: 1\nhost: 127.0.0.1\nauth: { internalToken: from-file }\n`)
    const cli = runCli(['start', '--config', file], { PORT: String(port), INTERNAL_AUTH_TOKEN: 'from-env' })
    await cli.waitForLine('roomgate listening')
    const res = await request(`http://127.0.0.1:${port}/internal/broadcast`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-internal-token': 'from-env' },
      body: JSON.stringify({ event: 'x', targets: { all: true } }),
    })
    expect(res.statusCode).toBe(200)
    await res.body.dump()
    cli.proc.kill('SIGINT')
    expect(await cli.exited).toBe(0)
    // No secret in any log line.
    expect(cli.stdout.join('\n')).not.toContain('from-env')
    expect(cli.stdout.join('\n')).not.toContain('from-file')
  })

  it('exits 1 with one clear line when the port is taken', async () => {
    const port = await freePort()
    const first = runCli(['start'], { PORT: String(port), HOST: '127.0.0.1' })
    await first.waitForLine('roomgate listening')
    const second = runCli(['start'], { PORT: String(port), HOST: '127.0.0.1' })
    expect(await second.exited).toBe(1)
    expect(second.stderr).toEqual([`roomgate: port ${port} is in use: set PORT or port`])
    first.proc.kill('SIGTERM')
    expect(await first.exited).toBe(0)
  })
})
