/**
 * The status section: its defaults, the shapes the schema refuses (a secret
 * written in clear first of all), and the checks it cannot express, which
 * `checkStatusConfig` makes with the environment and the file system.
 * Mostly with TypeBox directly; the last block goes through `buildConfig`.
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Value from 'typebox/value'
import { describe, expect, it } from 'vitest'
import { buildConfig, ConfigError } from '../../src/config/load.js'
import { checkStatusConfig, STATUS_AUTH_PATH, StatusSchema, type StatusConfig } from '../../src/config/status-schema.js'

const dir = mkdtempSync(join(tmpdir(), 'roomgate-status-config-'))
function file(name: string, text: string): string {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}
const TOKEN_FILE = file('token', 's3cr3t-file-XYZ\n')
const EMPTY_FILE = file('empty', '\n')
const SUBDIR = join(dir, 'sub')
mkdirSync(SUBDIR)

/** The section as the loader would have it: defaults filled. */
function section(input: unknown): StatusConfig {
  return Value.Default(StatusSchema, structuredClone(input)) as StatusConfig
}
function schemaErrors(input: unknown): string[] {
  return [...Value.Errors(StatusSchema, section(input))].map((e) => `${e.instancePath} ${e.message}`)
}
const source = (extra: Record<string, unknown> = {}) => ({ slug: 'demo', url: 'http://127.0.0.1:9300/units', ...extra })
const check = (sources: unknown[], env: NodeJS.ProcessEnv = {}) => checkStatusConfig({ status: section({ sources }) }, env)

describe('status schema: defaults', () => {
  it('fills the section and each source with the documented defaults', () => {
    const status = section({ sources: [source()] })
    expect(status).toEqual({
      keepaliveSeconds: 30,
      refreshPerMinute: 6,
      maxSubscribers: 10_000,
      maxSubscribersPerIp: 100,
      sources: [
        {
          slug: 'demo',
          url: 'http://127.0.0.1:9300/units',
          mapping: {},
          pollIntervalSeconds: 30,
          cacheTtlSeconds: 30,
          timeoutSeconds: 10,
          retryCount: 2,
          active: true,
        },
      ],
    })
    expect(Value.Check(StatusSchema, status)).toBe(true)
  })

  it('has no sources when nothing is configured', () => {
    expect(section({}).sources).toEqual([])
    expect(section(undefined)).toMatchObject({ sources: [], keepaliveSeconds: 30 })
  })

  it("gives an api_key auth the X-API-Key header unless told otherwise", () => {
    const status = section({
      sources: [
        source({ auth: { type: 'api_key', keyEnv: 'K' } }),
        source({ slug: 'b', auth: { type: 'api_key', header: 'X-Client-Key', keyFile: '/run/secrets/k' } }),
      ],
    })
    expect(status.sources.map((s) => s.auth)).toEqual([
      { type: 'api_key', header: 'X-API-Key', keyEnv: 'K' },
      { type: 'api_key', header: 'X-Client-Key', keyFile: '/run/secrets/k' },
    ])
    expect(Value.Check(StatusSchema, status)).toBe(true)
  })

  it('accepts the example of DESIGN.md and every auth type with an env var or a file', () => {
    const sources = [
      source({
        auth: { type: 'bearer', tokenEnv: 'DEMO_TOKEN' },
        mapping: { available: ['open', 'free'], reserved: ['hold'], sold: ['sold', 'taken'] },
        pollIntervalSeconds: 30,
      }),
      source({ slug: 'b1', auth: { type: 'bearer', tokenFile: '/run/secrets/x' } }),
      source({ slug: 'k1', auth: { type: 'api_key', keyEnv: 'K' } }),
      source({ slug: 'k2', auth: { type: 'api_key', keyFile: '/k' } }),
      source({ slug: 'p1', auth: { type: 'basic', username: 'u', passwordEnv: 'P' } }),
      source({ slug: 'p2', auth: { type: 'basic', username: 'u', passwordFile: '/p' }, active: false, retryCount: 0 }),
      source({ slug: 'fast_1', timeoutSeconds: 0.5, pollIntervalSeconds: 1, cacheTtlSeconds: 1, retryCount: 10 }),
    ]
    expect(schemaErrors({ sources, keepaliveSeconds: 0.5, refreshPerMinute: 0.5, maxSubscribers: 1 })).toEqual([])
  })
})

describe('status schema: refusals', () => {
  it.each([
    { desc: 'a bearer token written in clear', auth: { type: 'bearer', token: 's3cr3t' } },
    { desc: 'a token in clear next to tokenEnv', auth: { type: 'bearer', tokenEnv: 'T', token: 's3cr3t' } },
    { desc: 'an API key written in clear', auth: { type: 'api_key', key: 's3cr3t' } },
    { desc: 'a password written in clear', auth: { type: 'basic', username: 'u', password: 's3cr3t' } },
    { desc: 'both tokenEnv and tokenFile', auth: { type: 'bearer', tokenEnv: 'T', tokenFile: '/t' } },
    { desc: 'neither tokenEnv nor tokenFile', auth: { type: 'bearer' } },
    { desc: 'both keyEnv and keyFile', auth: { type: 'api_key', keyEnv: 'K', keyFile: '/k' } },
    { desc: 'both passwordEnv and passwordFile', auth: { type: 'basic', username: 'u', passwordEnv: 'P', passwordFile: '/p' } },
    { desc: 'basic without a username', auth: { type: 'basic', passwordEnv: 'P' } },
    { desc: 'a username with a colon', auth: { type: 'basic', username: 'a:b', passwordEnv: 'P' } },
    { desc: 'another auth type field', auth: { type: 'bearer', keyEnv: 'K' } },
    { desc: 'an unknown auth type', auth: { type: 'oauth', tokenEnv: 'T' } },
    { desc: 'an env name that is not one', auth: { type: 'bearer', tokenEnv: 'MY-TOKEN' } },
    { desc: 'an empty file name', auth: { type: 'bearer', tokenFile: '' } },
    { desc: 'a header name with a space', auth: { type: 'api_key', header: 'X Key', keyEnv: 'K' } },
  ])('refuses $desc', ({ auth }) => {
    expect(schemaErrors({ sources: [source({ auth })] })).not.toEqual([])
  })

  it.each([
    { desc: 'an uppercase slug', extra: { slug: 'Demo' } },
    { desc: 'a slug with a slash', extra: { slug: 'a/b' } },
    { desc: 'a slug starting with a dash', extra: { slug: '-a' } },
    { desc: 'a 65-character slug', extra: { slug: 'a'.repeat(65) } },
    { desc: 'an empty url', extra: { url: '' } },
    { desc: 'pollIntervalSeconds 0.5', extra: { pollIntervalSeconds: 0.5 } },
    { desc: 'pollIntervalSeconds over a day (timer overflow)', extra: { pollIntervalSeconds: 86_401 } },
    { desc: 'cacheTtlSeconds 0', extra: { cacheTtlSeconds: 0 } },
    { desc: 'timeoutSeconds 0', extra: { timeoutSeconds: 0 } },
    { desc: 'retryCount 11', extra: { retryCount: 11 } },
    { desc: 'retryCount -1', extra: { retryCount: -1 } },
    { desc: 'retryCount 1.5', extra: { retryCount: 1.5 } },
    { desc: 'active "yes"', extra: { active: 'yes' } },
    { desc: 'an unknown source setting', extra: { statusEndpoint: '/units' } },
    { desc: 'a mapping to a list of numbers', extra: { mapping: { sold: [1] } } },
    { desc: 'a mapping to a string', extra: { mapping: { sold: 'sold' } } },
    { desc: 'a mapping with an uppercase standard status', extra: { mapping: { Sold: ['sold'] } } },
    { desc: 'a mapping with an empty client value', extra: { mapping: { sold: [''] } } },
  ])('refuses $desc', ({ extra }) => {
    expect(schemaErrors({ sources: [source(extra)] })).not.toEqual([])
  })

  it.each([
    { desc: 'keepaliveSeconds 0', input: { keepaliveSeconds: 0 } },
    { desc: 'refreshPerMinute 0', input: { refreshPerMinute: 0 } },
    { desc: 'maxSubscribers 0', input: { maxSubscribers: 0 } },
    { desc: 'maxSubscribers 1.5', input: { maxSubscribers: 1.5 } },
    { desc: 'an unknown section setting', input: { pollSeconds: 3 } },
    { desc: 'sources that is not a list', input: { sources: { demo: {} } } },
    { desc: 'a source without a slug', input: { sources: [{ url: 'http://x' }] } },
    { desc: 'a source without a url', input: { sources: [{ slug: 'x' }] } },
  ])('refuses $desc', ({ input }) => {
    expect(schemaErrors(input)).not.toEqual([])
  })
})

describe('checkStatusConfig', () => {
  it('finds nothing wrong with sources whose secrets are there', () => {
    const sources = [
      source({ auth: { type: 'bearer', tokenEnv: 'DEMO_TOKEN' }, mapping: { reserved: ['hold'], sold: ['sold'] } }),
      source({ slug: 'f', url: 'https://client.example/api/units?project=7', auth: { type: 'api_key', keyFile: TOKEN_FILE } }),
      source({ slug: 'b', auth: { type: 'basic', username: 'u', passwordEnv: 'PW' } }),
      source({ slug: 'open' }),
    ]
    expect(check(sources, { DEMO_TOKEN: 's3cr3t-bearer-XYZ', PW: 'p:w' })).toEqual([])
  })

  it.each([
    {
      desc: 'an env var that is not set',
      src: source({ auth: { type: 'bearer', tokenEnv: 'DEMO_TOKEN' } }),
      env: {},
      problems: ['status.sources[0].auth.tokenEnv: DEMO_TOKEN is not set'],
    },
    {
      desc: 'an empty env var',
      src: source({ auth: { type: 'api_key', keyEnv: 'K' } }),
      env: { K: '' },
      problems: ['status.sources[0].auth.keyEnv: K is empty'],
    },
    {
      desc: 'an env var with a line break inside',
      src: source({ auth: { type: 'basic', username: 'u', passwordEnv: 'P' } }),
      env: { P: 'ab\ncd' },
      problems: ['status.sources[0].auth.passwordEnv: P holds control characters a header cannot carry'],
    },
    {
      desc: 'a file that does not exist',
      src: source({ auth: { type: 'bearer', tokenFile: join(dir, 'missing') } }),
      env: {},
      problems: [`status.sources[0].auth.tokenFile: ${join(dir, 'missing')} cannot be read (ENOENT)`],
    },
    {
      desc: 'a folder given as the file',
      src: source({ auth: { type: 'bearer', tokenFile: SUBDIR } }),
      env: {},
      problems: [`status.sources[0].auth.tokenFile: ${SUBDIR} is not a regular file`],
    },
    {
      desc: 'a file holding only a newline',
      src: source({ auth: { type: 'api_key', keyFile: EMPTY_FILE } }),
      env: {},
      problems: [`status.sources[0].auth.keyFile: ${EMPTY_FILE} is empty`],
    },
    {
      desc: 'two sources with one slug',
      src: [source(), source({ url: 'http://127.0.0.1:9301/units' })],
      env: {},
      problems: ['status.sources[1].slug "demo" is already used by status.sources[0]'],
    },
    {
      desc: 'a url that is not http(s)',
      src: source({ url: 'ftp://client.example/units' }),
      env: {},
      problems: ['status.sources[0].url must use http or https, got ftp:'],
    },
    {
      desc: 'a url that is not a URL',
      src: source({ url: '/units' }),
      env: {},
      problems: ['status.sources[0].url must be an absolute http(s) URL'],
    },
    {
      desc: 'a url carrying a password',
      src: source({ url: 'https://user:s3cr3t@client.example/units' }),
      env: {},
      problems: ['status.sources[0].url must not carry a user or password (use auth)'],
    },
    {
      desc: 'a url with a fragment',
      src: source({ url: 'https://client.example/units#x' }),
      env: {},
      problems: ['status.sources[0].url must not have a fragment'],
    },
    {
      desc: 'an API key header the request needs for itself',
      src: source({ auth: { type: 'api_key', header: 'Host', keyEnv: 'K' } }),
      env: { K: 'k' },
      problems: ['status.sources[0].auth.header "Host" cannot carry an API key'],
    },
    {
      desc: 'a client value under two standard statuses',
      src: source({ mapping: { reserved: ['hold', 'pending'], sold: ['sold', 'HOLD'] } }),
      env: {},
      problems: ['status.sources[0].mapping.sold[1] "HOLD" is already mapped to reserved'],
    },
  ])('reports $desc', ({ src, env, problems }) => {
    expect(check(Array.isArray(src) ? src : [src], env)).toEqual(problems)
  })

  it('does not look for the secrets of an inactive source', () => {
    const src = source({ active: false, auth: { type: 'bearer', tokenEnv: 'NOT_SET' } })
    expect(check([src], {})).toEqual([])
  })

  it('names the variable, never its value', () => {
    const src = source({ auth: { type: 'bearer', tokenEnv: 'T' } })
    const problems = check([src], { T: 's3cr3t-bearer-XYZ\r\nX-Evil: 1' })
    expect(problems).toHaveLength(1)
    expect(problems[0]).not.toContain('s3cr3t')
  })

  it('reports a file it may not read', () => {
    const locked = file('locked', 'x')
    chmodSync(locked, 0o000)
    const problems = check([source({ auth: { type: 'bearer', tokenFile: locked } })])
    // root reads anything; everyone else gets EACCES.
    if (process.getuid?.() === 0) expect(problems).toEqual([])
    else expect(problems).toEqual([`status.sources[0].auth.tokenFile: ${locked} cannot be read (EACCES)`])
  })

  // The schema's union only says "must match a schema in anyOf"; the check names the mistake.
  it.each([
    {
      desc: 'a token written in clear',
      auth: { type: 'bearer', token: 's3cr3t' },
      problems: ['status.sources[0].auth.token: a secret may not be written in the config; name it with tokenEnv or tokenFile'],
    },
    {
      desc: 'a password written in clear',
      auth: { type: 'basic', username: 'u', password: 's3cr3t', passwordEnv: 'P' },
      problems: [
        'status.sources[0].auth.password: a secret may not be written in the config; name it with passwordEnv or passwordFile',
      ],
    },
    {
      desc: 'both Env and File',
      auth: { type: 'api_key', keyEnv: 'K', keyFile: '/k' },
      problems: ['status.sources[0].auth: give keyEnv or keyFile, not both'],
    },
    {
      desc: 'neither Env nor File',
      auth: { type: 'basic', username: 'u' },
      problems: ['status.sources[0].auth: passwordEnv or passwordFile is required for type "basic"'],
    },
    {
      desc: 'an unknown type',
      auth: { type: 'oauth' },
      problems: ['status.sources[0].auth.type must be one of "bearer", "api_key", "basic"'],
    },
    {
      desc: 'an auth that is not a mapping',
      auth: 'bearer',
      problems: ['status.sources[0].auth must be a mapping with type "bearer", "api_key", "basic"'],
    },
    {
      desc: "another type's field",
      auth: { type: 'bearer', tokenEnv: 'T', username: 'u' },
      problems: ['status.sources[0].auth.username: unknown setting'],
    },
    {
      desc: 'an env name of the wrong type',
      auth: { type: 'bearer', tokenEnv: 5 },
      problems: ['status.sources[0].auth.tokenEnv must be string'],
    },
    {
      desc: 'basic without a username',
      auth: { type: 'basic', passwordEnv: 'P' },
      problems: ['status.sources[0].auth must have required properties username'],
    },
  ])('explains a bad auth shape: $desc', ({ auth, problems }) => {
    // The tree the schema refused, as the loader holds it.
    const status = { sources: [source({ auth })] } as unknown as StatusConfig
    expect(checkStatusConfig({ status }, { P: 'p', T: 't', K: 'k' })).toEqual(problems)
  })

  it('marks where the union errors are that its auth messages replace', () => {
    const status = section({ sources: [source(), source({ slug: 'b', auth: { type: 'bearer', token: 'x', tokenEnv: 'T' } })] })
    const paths = [...Value.Errors(StatusSchema, status)].map((e) => `/status${e.instancePath}`)
    expect(paths.length).toBeGreaterThan(1)
    expect(paths.every((p) => STATUS_AUTH_PATH.test(p))).toBe(true)
    expect(STATUS_AUTH_PATH.test('/status/sources/1/authority')).toBe(false)
    expect(checkStatusConfig({ status }, { T: 't' })).toEqual([
      'status.sources[1].auth.token: a secret may not be written in the config; name it with tokenEnv or tokenFile',
    ])
  })

  it('ignores what it cannot read instead of throwing (the schema reports it)', () => {
    expect(checkStatusConfig({ status: {} as StatusConfig }, {})).toEqual([])
    expect(checkStatusConfig({ status: { sources: [null, 3] } as unknown as StatusConfig }, {})).toEqual([])
  })
})

describe('status config through buildConfig', () => {
  const demo = { slug: 'demo', url: 'http://127.0.0.1:9300/units', auth: { type: 'bearer', tokenEnv: 'DEMO_TOKEN' } }

  it('has no sources by default', () => {
    expect(buildConfig({}, {}).status).toEqual({ keepaliveSeconds: 30, refreshPerMinute: 6, maxSubscribers: 10_000, maxSubscribersPerIp: 100, sources: [] })
  })

  it('loads a source whose secret is set, defaults filled and frozen', () => {
    const config = buildConfig({ status: { sources: [demo] } }, { DEMO_TOKEN: 's3cr3t-bearer-XYZ' })
    expect(config.status.sources[0]).toMatchObject({ slug: 'demo', retryCount: 2, timeoutSeconds: 10, active: true, mapping: {} })
    expect(Object.isFrozen(config.status.sources[0]!.auth)).toBe(true)
  })

  it.each([
    { desc: 'an unset env var', status: { sources: [demo] }, error: 'status.sources[0].auth.tokenEnv: DEMO_TOKEN is not set' },
    {
      desc: 'a secret written in clear',
      status: { sources: [{ ...demo, auth: { type: 'bearer', token: 'x' } }] },
      error: 'status.sources[0].auth.token',
    },
    {
      desc: 'both Env and File',
      status: { sources: [{ ...demo, auth: { type: 'bearer', tokenEnv: 'DEMO_TOKEN', tokenFile: TOKEN_FILE } }] },
      error: 'status.sources[0].auth',
    },
    {
      desc: 'a duplicate slug',
      status: { sources: [demo, { ...demo, auth: undefined }] },
      error: 'status.sources[1].slug "demo" is already used',
    },
    { desc: 'an ftp url', status: { sources: [{ ...demo, url: 'ftp://x/units' }] }, error: 'status.sources[0].url must use http or https' },
  ])('refuses $desc with the dotted key', ({ status, error }) => {
    const build = () => buildConfig({ status: structuredClone(status) }, {})
    expect(build).toThrow(ConfigError)
    expect(build).toThrow(error)
  })
})
