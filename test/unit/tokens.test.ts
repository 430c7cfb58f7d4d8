import { describe, expect, it } from 'vitest'
import { bearerToken, safeEqual, SecretSet } from '../../src/auth/tokens.js'

describe('credentials', () => {
  it('compares secrets of any length', () => {
    expect(safeEqual('secret', 'secret')).toBe(true)
    expect(safeEqual('secret', 'secret2')).toBe(false)
    expect(safeEqual('', 'secret')).toBe(false)
  })

  it('finds a secret in a set without storing it in clear', () => {
    const set = new SecretSet(['a-token', 'b-token'])
    expect(set.has('a-token')).toBe(true)
    expect(set.has('c-token')).toBe(false)
    expect(set.has('')).toBe(false)
    expect(set.has(undefined)).toBe(false)
    expect(JSON.stringify([...(set as unknown as { digests: Set<string> }).digests])).not.toContain('a-token')
  })

  it('reads bearer tokens', () => {
    expect(bearerToken('Bearer 1234')).toBe('1234')
    expect(bearerToken('bearer   1234 ')).toBe('1234')
    expect(bearerToken('Basic 1234')).toBeUndefined()
    expect(bearerToken('Bearer')).toBeUndefined()
    expect(bearerToken(undefined)).toBeUndefined()
  })
})
