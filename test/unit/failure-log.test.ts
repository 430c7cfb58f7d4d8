import { describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { Writable } from 'node:stream'
import { RoomgateError } from '../../src/errors.js'
import { FailureLog } from '../../src/upstream/failure-log.js'

function capture() {
  const lines: Array<Record<string, unknown>> = []
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _e, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>)
        done()
      },
    }),
  )
  return { log, lines }
}

describe('FailureLog', () => {
  it('logs one line per service, kind and code in a window, with the count suppressed', async () => {
    const { log, lines } = capture()
    const f = new FailureLog(log, 50)
    for (let i = 0; i < 10; i++) f.report('lobby', 'event', new RoomgateError('upstream_timeout'))
    f.report('lobby', 'proxy', new RoomgateError('upstream_timeout'))
    await new Promise((r) => setTimeout(r, 60))
    f.report('lobby', 'event', new RoomgateError('upstream_timeout'))
    expect(lines.map((l) => [l.kind, l.suppressed])).toEqual([
      ['event', 0],
      ['proxy', 0],
      ['event', 9],
    ])
  })

  it('puts codes a service made up in one window, and ignores 4xx answers', () => {
    const { log, lines } = capture()
    const f = new FailureLog(log, 60_000)
    for (let i = 0; i < 100; i++) f.report('lobby', 'event', RoomgateError.fromService(`made_up_${i}`, 'x', 503))
    f.report('lobby', 'event', RoomgateError.fromService('lobby_full', 'x', 409))
    expect(lines).toHaveLength(1)
    expect(lines[0]!.code).toBe('service_code')
  })
})
