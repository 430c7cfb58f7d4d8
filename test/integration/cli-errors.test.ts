/**
 * Issue 16: the CLI's error messages are one clear line on stderr. Regressions:
 * an unknown option printed Node's parser text (with an unbalanced quote) and
 * the whole help; a taken port crashed `demo` with a stack and made `start`
 * log one as JSON; config errors did not suggest the key meant, show the bad
 * value, or name the env var it came from.
 */
import { describe, expect, it } from 'vitest'
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
