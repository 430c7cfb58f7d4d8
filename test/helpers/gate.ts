/** Starts real roomgate instances on 127.0.0.1:0 for a test, logs captured. */
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { loadConfig } from '../../src/config/load.js'
import { REDACT_PATHS } from '../../src/log.js'
import { startRoomgate, type Roomgate } from '../../src/roomgate.js'

export interface TestGate extends Roomgate {
  wsUrl: string
  /** Every log line, as JSON text. */
  logs: string[]
  /** A config reload, as if the file now held these settings (instead of those it started with). */
  reloadWith(settings: Record<string, unknown>): ReturnType<Roomgate['reload']>
}

const open = new Set<TestGate>()

export async function startGate(settings: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}): Promise<TestGate> {
  let current = settings
  const load = () => loadConfig({ settings: { port: 0, host: '127.0.0.1', logLevel: 'debug', ...current }, env })
  const config = load()
  const logs: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean))
      done()
    },
  })
  const logger = pino({ level: config.logLevel, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink)
  const gate = await startRoomgate(config, { logger, env, load })
  const reloadWith = (next: Record<string, unknown>) => {
    current = next
    return gate.reload()
  }
  const test = Object.assign(gate, { wsUrl: gate.url.replace(/^http/, 'ws'), logs, reloadWith })
  open.add(test)
  return test
}

/** Closes every instance a test started (use in afterEach). */
export async function closeGates(): Promise<void> {
  const all = [...open]
  open.clear()
  await Promise.all(all.map((g) => g.close()))
}
