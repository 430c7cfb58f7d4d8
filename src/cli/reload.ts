/**
 * `roomgate reload`: asks a running roomgate to read its config file and
 * environment again and apply what can change live, as SIGHUP does
 * (POST /admin/reload with a bearer token of auth.bearerTokens; give the
 * admin listener's address as --url when the server has one). Prints what
 * changed, the new hash, and the settings that need a restart; a config the
 * server refused exits 2 with its problems.
 */
import type { ReloadResult } from '../reload.js'
import { Client, HttpError } from './client.js'
import { CliError, EXIT, usageError } from './exit.js'
import { fields, printJson, when } from './format.js'
import { connection, onlyOptions, type Values } from './options.js'

export async function reloadCommand(args: string[], values: Values): Promise<number> {
  onlyOptions(values, 'reload', ['url', 'token', 'timeout', 'json'])
  if (args.length > 0) throw usageError(`reload takes no arguments, got ${JSON.stringify(args[0])}`)
  const client = new Client(connection(values))
  let answer: ReloadResult
  try {
    answer = await client.json<ReloadResult>('/admin/reload', { method: 'POST', auth: 'token' })
  } catch (err) {
    // The config on the server is bad: like `config check`, a config error.
    if (err instanceof HttpError && err.status === 422) throw new CliError(EXIT.usage, err.message)
    throw err
  }
  if (values.json) printJson(answer)
  else {
    console.log(`reloaded: ${answer.changed.length > 0 ? answer.changed.join(', ') : 'nothing live changed'}`)
    console.log(
      fields([
        ['hash', answer.hash],
        ['loaded', when(answer.loadedAt)],
        ['needs a restart', answer.restartOnly.length > 0 ? `${answer.restartOnly.join(', ')} (running values kept)` : undefined],
      ]),
    )
  }
  return EXIT.ok
}
