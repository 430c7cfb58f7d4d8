/** "Did you mean …?": one nearest-match helper for CLI options, commands and config keys (issue 16). */
import { describe, expect, it } from 'vitest'
import { didYouMean, editDistance, nearest } from '../../src/config/suggest.js'

describe('nearest', () => {
  const options = ['config', 'help', 'version', 'url', 'key', 'token', 'json', 'timeout', 'dir', 'watch', 'status', 'limit', 'follow']
  it.each([
    { desc: 'a prefix', name: 'conf', want: 'config' },
    { desc: 'a swapped pair', name: 'prot', candidates: ['port', 'host', 'redisUrl'], want: 'port' },
    { desc: 'one letter off', name: 'jsno', want: 'json' },
    { desc: 'a missing letter', name: 'timout', want: 'timeout' },
    { desc: 'another case', name: 'ratelimit', candidates: ['rateLimit', 'redisUrl'], want: 'rateLimit' },
    { desc: 'nothing close', name: 'xyz', want: undefined },
    { desc: 'a long unrelated word', name: 'banana', want: undefined },
    { desc: 'the closest of two', name: 'stat', candidates: ['start', 'status'], want: 'start' },
  ])('$desc: $name → $want', ({ name, candidates, want }) => {
    expect(nearest(name, candidates ?? options)).toBe(want)
  })

  it('counts a swap as one edit', () => {
    expect(editDistance('prot', 'port')).toBe(1)
    expect(editDistance('kitten', 'sitting')).toBe(3)
    expect(editDistance('', 'abc')).toBe(3)
  })

  it('didYouMean quotes the match, or says nothing', () => {
    expect(didYouMean('prot', ['port'])).toBe(' (did you mean "port"?)')
    expect(didYouMean('conf', ['config'], (s) => `--${s}`)).toBe(' (did you mean --config?)')
    expect(didYouMean('xyz', ['port'])).toBe('')
  })
})
