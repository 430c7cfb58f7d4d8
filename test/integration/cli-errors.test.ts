/**
 * Issue 16: the CLI's error messages are one clear line on stderr. Regressions:
 * an unknown option printed Node's parser text (with an unbalanced quote) and
 * the whole help; a taken port crashed `demo` with a stack and made `start`
 * log one as JSON; config errors did not suggest the key meant, show the bad
 * value, or name the env var it came from.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort } from '../helpers/ports.js'
import { runCli } from '../helpers/process.js'

const HINT = 'Run `roomgate --help` for usage.'

async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string[]; err: string[] }> {
  const cli = runCli(args, env)
  const code = await cli.exited
  return { code, out: cli.stdout, err: cli.stderr }
}

describe('unknown options and commands', () => {
  it.each([
    { desc: 'a near option', args: ['start', '--conf', 'x.yaml'], err: ['roomgate: unknown option --conf (did you mean --config?)', HINT] },
    { desc: 'a near option with =', args: ['jobs', 'list', '--limt=5'], err: ['roomgate: unknown option --limt (did you mean --limit?)', HINT] },
    { desc: 'an option like no other', args: ['start', '--xyz'], err: ['roomgate: unknown option --xyz', HINT] },
    { desc: 'an unknown short option', args: ['-x'], err: ['roomgate: unknown option -x', HINT] },
    { desc: 'a near command', args: ['strat'], err: ['roomgate: unknown command "strat" (did you mean "start"?)', HINT] },
    { desc: 'a near subcommand', args: ['jobs', 'lsit'], err: ['roomgate: unknown jobs subcommand "lsit" (did you mean "list"?)', HINT] },
    { desc: 'a command like no other', args: ['launch'], err: ['roomgate: unknown command "launch"', HINT] },
    { desc: 'an option without its value', args: ['start', '--config'], err: ['roomgate: --config needs a value', HINT] },
    {
      desc: 'an option followed by another',
      args: ['start', '--config', '--json'],
      err: ['roomgate: --config needs a value, got the option --json (write --config=--json if that is the value)', HINT],
    },
    { desc: 'a value for a switch', args: ['jobs', 'list', '--json=yes'], err: ['roomgate: --json does not take a value', HINT] },
  ])('$desc: one line and a hint, exit 2', async ({ args, err }) => {
    const r = await run(args)
    expect(r.code).toBe(2)
    expect(r.err).toEqual(err)
    expect(r.out).toEqual([])
  })
})

describe('a port in use', () => {
  let held: Server | undefined
  afterEach(async () => {
    await new Promise((resolve) => (held ? held.close(resolve) : resolve(undefined)))
    held = undefined
  })
  /** A port some other program holds, on the address roomgate is told to use. */
  async function holdPort(): Promise<number> {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    held = server
    return (server.address() as { port: number }).port
  }
  const dir = mkdtempSync(join(tmpdir(), 'roomgate-cli-errors-'))

  /** One line on stderr, exit 1, and no stack on either stream. */
  function expectOneLine(r: Awaited<ReturnType<typeof run>>, line: string): void {
    expect(r.code).toBe(1)
    expect(r.err).toEqual([line])
    expect([...r.out, ...r.err].join('\n')).not.toMatch(/EADDRINUSE|\bat .*\(node:/)
  }

  it('start --config FILE: names the port and the settings that move it', async () => {
    const port = await holdPort()
    const file = join(dir, 'port.yaml')
    writeFileSync(file, `port: ${port}\nhost: 127.0.0.1\n`)
    expectOneLine(await run(['start', '--config', file]), `roomgate: port ${port} is in use: set PORT or port`)
  })

  it('start: the admin listener names its own settings', async () => {
    const [port, admin] = [await freePort(), await holdPort()]
    expectOneLine(await run(['start'], { PORT: String(port), HOST: '127.0.0.1', ADMIN_PORT: String(admin) }), `roomgate: port ${admin} is in use: set ADMIN_PORT or admin.port`)
  })

  it('demo (npm start): the same line instead of a crash', async () => {
    const [port, services] = [await holdPort(), await freePort()]
    // The demo services on a free port of their own: 8091 may be another test's demo.
    const base = `http://127.0.0.1:${services}`
    const env = { PORT: String(port), HOST: '127.0.0.1', LOBBY_URL: `${base}/lobby`, MEASUREMENT_URL: `${base}/measurement`, SIMULATION_URL: `${base}/simulation` }
    expectOneLine(await run(['demo'], env), `roomgate: port ${port} is in use: set PORT or port`)
  })

  it("demo: a taken port of the demo services names the variables that move them", async () => {
    const [port, services] = [await freePort(), await holdPort()]
    const base = `http://127.0.0.1:${services}`
    const r = await run(['demo'], {
      PORT: String(port),
      HOST: '127.0.0.1',
      LOBBY_URL: `${base}/lobby`,
      MEASUREMENT_URL: `${base}/measurement`,
      SIMULATION_URL: `${base}/simulation`,
    })
    expectOneLine(r, `roomgate: port ${services} is in use: set LOBBY_URL, MEASUREMENT_URL and SIMULATION_URL to another port (the demo services)`)
  })
})

describe('config errors, the same through config check and start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'roomgate-cli-config-'))
  const LEVELS = '"fatal", "error", "warn", "info", "debug", "trace", "silent"'
  it.each([
    { desc: 'a mistyped key', text: 'prot: 8080\n', env: {}, want: 'unknown key "prot" (did you mean "port"?)' },
    { desc: 'a mistyped nested key', text: 'rateLimit:\n  rsp: 5\n', env: {}, want: 'unknown key "rateLimit.rsp" (did you mean "rateLimit.rps"?)' },
    { desc: 'a bad value', text: 'port: abc\n', env: {}, want: 'port must be an integer, got "abc"' },
    { desc: 'a bad value from the environment', text: 'logLevel: info\n', env: { LOG_LEVEL: 'verbose' }, want: `LOG_LEVEL: logLevel must be one of ${LEVELS}, got "verbose"` },
  ])('$desc', async ({ desc, text, env, want }) => {
    const file = join(dir, `${desc.replace(/\W+/g, '-')}.yaml`)
    writeFileSync(file, text)
    for (const args of [['config', 'check', file], ['start', '--config', file]]) {
      const r = await run(args, env)
      expect(r.code, args[0]).toBe(2)
      expect(r.err, args[0]).toEqual([`roomgate: config error: ${want}`])
    }
  })
})
