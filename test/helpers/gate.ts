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
}

const open = new Set<TestGate>()

export async function startGate(settings: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}): Promise<TestGate> {
  const config = loadConfig({
    settings: { port: 0, host: '127.0.0.1', logLevel: 'debug', ...settings },
    env,
  })
  const logs: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean))
      done()
    },
  })
  const logger = pino({ level: config.logLevel, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink)
  const gate = await startRoomgate(config, { logger, env })
  const test = Object.assign(gate, { wsUrl: gate.url.replace(/^http/, 'ws'), logs })
  open.add(test)
  return test
}

/** Closes every instance a test started (use in afterEach). */
export async function closeGates(): Promise<void> {
  const all = [...open]
  open.clear()
  await Promise.all(all.map((g) => g.close()))
}
