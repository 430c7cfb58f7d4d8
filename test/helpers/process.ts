/** Runs the real `roomgate` command (bin/roomgate.js → dist/) as a child process. */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const BIN = fileURLToPath(new URL('../../bin/roomgate.js', import.meta.url))

export interface RunningCli {
  proc: ChildProcess
  stdout: string[]
  stderr: string[]
  exited: Promise<number | null>
  /** Resolves with the first stdout line that contains `text`. */
  waitForLine(text: string, timeoutMs?: number): Promise<string>
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const proc = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const stdout: string[] = []
  const stderr: string[] = []
  const listeners: Array<() => void> = []
  const collect = (into: string[]) => (chunk: Buffer) => {
    into.push(...chunk.toString('utf8').split('\n').filter(Boolean))
    for (const l of listeners) l()
  }
  proc.stdout.on('data', collect(stdout))
  proc.stderr.on('data', collect(stderr))
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
  return {
    proc,
    stdout,
    stderr,
    exited,
    waitForLine(text, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = stdout.find((l) => l.includes(text))
          if (line) {
            clearTimeout(timer)
            resolve(line)
          }
        }
        const timer = setTimeout(
          () => reject(new Error(`no line with ${JSON.stringify(text)} in ${timeoutMs} ms.\nstdout: ${stdout.join('\n')}\nstderr: ${stderr.join('\n')}`)),
          timeoutMs,
        )
        listeners.push(check)
        void exited.then(() => setTimeout(check, 10))
        check()
      })
    },
  }
}
