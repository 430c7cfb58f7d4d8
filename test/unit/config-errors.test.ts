/**
 * Issue 16: config errors a person can act on. A mistyped key suggests the
 * valid key nearest to it at its level, a bad value is shown, and a value from
 * an environment variable names the variable.
 */
import { describe, expect, it } from 'vitest'
import { buildConfig } from '../../src/config/load.js'

const LEVELS = '"fatal", "error", "warn", "info", "debug", "trace", "silent"'

function problem(tree: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): string {
  try {
    buildConfig(tree, env)
  } catch (err) {
    return (err as Error).message
  }
  throw new Error('the config was accepted')
}

describe('config errors', () => {
  it.each([
    { desc: 'a swapped pair at the top', tree: { prot: 8080 }, want: 'unknown key "prot" (did you mean "port"?)' },
    { desc: 'another case', tree: { ratelimit: {} }, want: 'unknown key "ratelimit" (did you mean "rateLimit"?)' },
    { desc: 'a nested key', tree: { rateLimit: { rsp: 1 } }, want: 'unknown key "rateLimit.rsp" (did you mean "rateLimit.rps"?)' },
    { desc: 'a key like no other', tree: { zzz: 1 }, want: 'unknown key "zzz"' },
    {
      desc: 'a key in a list item, whose missing twin is not reported again',
      tree: { proxy: { routes: [{ prefix: '/x', servce: 'lobby' }] } },
      want: 'unknown key "proxy.routes[0].servce" (did you mean "proxy.routes[0].service"?)',
    },
    {
      desc: 'a key in a named pool',
      tree: { rooms: { pools: { janus: { strategy: 'fill', nodes: ['a'], capacty: 5 } } } },
      want: 'unknown key "rooms.pools.janus.capacty" (did you mean "rooms.pools.janus.capacity"?)',
    },
    {
      desc: 'a key in a health check',
      tree: { health: { checks: [{ name: 'a', kind: 'http', url: 'http://x/', expectStatu: 200 }] } },
      want: 'unknown key "health.checks[0].expectStatu" (did you mean "health.checks[0].expectStatus"?)',
    },
    { desc: 'a word for a number', tree: { port: 'abc' }, want: 'port must be an integer, got "abc"' },
    { desc: 'a mapping for a number', tree: { port: { a: 1 } }, want: 'port must be an integer, got a mapping' },
    { desc: 'a fraction', tree: { port: 80.5 }, want: 'port must be an integer, got 80.5' },
    { desc: 'a number out of range', tree: { rateLimit: { rps: -5 } }, want: 'rateLimit.rps must be > 0, got -5' },
    { desc: 'a value not in the list', tree: { logLevel: 'loud' }, want: `logLevel must be one of ${LEVELS}, got "loud"` },
    { desc: 'a list for a string', tree: { host: ['a'] }, want: 'host must be a string, got a list' },
  ])('$desc: $want', ({ tree, want }) => {
    expect(problem(tree)).toBe(want)
  })

  it.each([
    { desc: 'a level', env: { LOG_LEVEL: 'verbose' }, want: `LOG_LEVEL: logLevel must be one of ${LEVELS}, got "verbose"` },
    { desc: 'a word for an integer', env: { PORT: 'abc' }, want: 'PORT: port must be an integer, got "abc"' },
    { desc: 'a fraction for an integer', env: { PORT: '80.5' }, want: 'PORT: port must be an integer, got "80.5"' },
    { desc: 'a word for a number', env: { RATE_LIMIT_RPS: 'fast' }, want: 'RATE_LIMIT_RPS: rateLimit.rps must be a number, got "fast"' },
    { desc: 'a number out of range', env: { MAX_MESSAGE_BYTES: '10' }, want: 'MAX_MESSAGE_BYTES: maxMessageBytes must be >= 64, got 10' },
    { desc: 'a semantic check', env: { LOBBY_URL: 'ftp://x' }, want: 'LOBBY_URL: services.lobby.url must use http or https, got ftp:' },
    { desc: 'a check of two keys', env: { ADMIN_PORT: '8080' }, want: 'ADMIN_PORT: admin.port 8080 must differ from port: the admin listener is a second server' },
  ])('from the environment, $desc: $want', ({ env, want }) => {
    expect(problem({}, env)).toBe(want)
  })

  it('the same key from the file does not name the variable', () => {
    expect(problem({ logLevel: 'verbose' }, { PORT: '8081' })).toBe(`logLevel must be one of ${LEVELS}, got "verbose"`)
  })

  it.each([
    { desc: 'a token of the wrong type', tree: { auth: { internalToken: 12345 } }, want: 'auth.internalToken must be a string, got a number', secret: '12345' },
    { desc: 'a bearer token of the wrong type', tree: { auth: { bearerTokens: [98765] } }, want: 'auth.bearerTokens[0] must be a string, got a number', secret: '98765' },
    { desc: 'a URL with a password', tree: { redisUrl: 'http://user:hunter2@x:6379' }, want: 'redisUrl must match pattern "^rediss?://", got "http://…@x:6379"', secret: 'hunter2' },
  ])('never shows a secret: $desc', ({ tree, want, secret }) => {
    const message = problem(tree)
    expect(message).toBe(want)
    expect(message).not.toContain(secret)
  })

  it('cuts a long value', () => {
    expect(problem({ logLevel: 'x'.repeat(200) })).toMatch(/, got "x{40,60}…"$/)
  })
})
