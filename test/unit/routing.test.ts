import { describe, expect, it } from 'vitest'
import { buildConfig } from '../../src/config/load.js'
import { EventRouter } from '../../src/events/routing.js'

describe("seed 001's routing table", () => {
  const router = new EventRouter(buildConfig({}, {}).events.routes)
  const cases: Array<[event: string, service: string | undefined]> = [
    ['lobby.create', 'lobby'],
    ['lobby.room_snapshot', 'lobby'],
    ['role.assign', 'lobby'],
    ['measurement.create_session', 'lobby'],
    ['measurement.start_speaker', 'lobby'],
    ['measurement.session_status', 'lobby'],
    ['measurement.cancel_session', 'lobby'],
    ['measurement.ready', 'lobby'],
    ['measurement.speaker_audio_ready', 'lobby'],
    ['measurement.recording_started', 'lobby'],
    ['measurement.playback_complete', 'lobby'],
    ['measurement.recording_uploaded', 'lobby'],
    ['measurement.error', 'lobby'],
    ['measurement.create_job', 'measurement'],
    ['measurement.get_job', 'measurement'],
    ['measurement.get_audio_info', 'measurement'],
    ['analysis.run', 'measurement'],
    ['simulation.run', 'simulation'],
    ['simulation.health', 'simulation'],
    ['lobby', undefined],
    ['lobby.', undefined],
    ['lobbyist.create', undefined],
    ['measurement', undefined],
    ['chat.send', undefined],
    ['', undefined],
  ]
  for (const [event, service] of cases) {
    it(`${JSON.stringify(event)} → ${service ?? 'no route'}`, () => {
      expect(router.match(event)).toBe(service)
    })
  }
})

describe('custom tables', () => {
  it('takes the first matching route, and * matches everything left', () => {
    const router = new EventRouter([
      { match: ['chat.special'], service: 'a' },
      { match: ['chat.*'], service: 'b' },
      { match: ['*'], service: 'c' },
    ])
    expect(router.match('chat.special')).toBe('a')
    expect(router.match('chat.other')).toBe('b')
    expect(router.match('anything')).toBe('c')
  })
})

describe('reload', () => {
  it('routes the next event by the new table', () => {
    const router = new EventRouter([{ match: ['chat.*'], service: 'a' }])
    router.reload([{ match: ['chat.*'], service: 'b' }])
    expect(router.match('chat.x')).toBe('b')
  })
})
