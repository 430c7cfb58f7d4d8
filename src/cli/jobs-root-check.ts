/**
 * `config check` looks at jobs.root on this machine: a folder that is missing
 * or unreadable is a config error here (exit 2), although `start` runs with
 * it (new jobs are refused until it can be read, a mount that comes later).
 */
import { accessSync, constants, statSync } from 'node:fs'
import { rootError } from '../jobs/root-watch.js'

/** Why jobs.root cannot serve cache jobs here, naming it; undefined when it can. */
export function jobsRootProblem(root: string | undefined): string | undefined {
  if (root === undefined) return undefined
  try {
    if (!statSync(root).isDirectory()) return `jobs.root ${JSON.stringify(root)} is not a folder`
    accessSync(root, constants.R_OK | constants.X_OK)
    return undefined
  } catch (err) {
    return `jobs.root ${JSON.stringify(root)} cannot be read: ${rootError(err)} (roomgate start would run and refuse new cache jobs until it can be)`
  }
}
