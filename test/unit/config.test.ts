import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildConfig, ConfigError, dottedKey, loadConfig } from '../../src/config/load.js'

const dir = mkdtempSync(join(tmpdir(), 'roomgate-config-'))
function file(name: string, text: string): string {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}

describe('config defaults', () => {
  const config = buildConfig({}, {})

  it('uses the embedded defaults: memory engine on port 8080, seed 001 values', () => {
    expect(config.port).toBe(8080)
    expect(config.host).toBe('0.0.0.0')
    expect(config.redisUrl).toBeUndefined()
    expect(config.rateLimit).toEqual({ rps: 10, burst: 20 })
    expect(config.maxMessageBytes).toBe(65536)
    expect(config.httpTimeoutSeconds).toBe(10)
    expect(config.auth.internalToken).toBe('')
    expect(config.services.lobby!.url).toBe('http://lobby:8000')
    expect(config.services.measurement!.url).toBe('http://measurement:8000')
    expect(config.services.simulation!.url).toBe('http://simulation:8000')
    expect(config.services.lobby!.connections).toBe(128)
  })

  it('has the front door limits of issue 11, and no admin listener', () => {
    expect(config.http).toEqual({ headersTimeoutMs: 20_000, bodyIdleTimeoutMs: 30_000, keepAliveTimeoutMs: 72_000, maxUploadsPerIp: 64 })
    expect(config.auth.failedAttempts).toEqual({ perMinute: 10, burst: 20 })
    expect(config.admin).toEqual({ host: '127.0.0.1' })
  })

  it('takes Redis behind Sentinel from REDIS_SENTINELS and REDIS_SENTINEL_NAME', () => {
    const c = buildConfig({}, { REDIS_SENTINELS: '10.0.0.5:26379, 10.0.0.6:26379', REDIS_SENTINEL_NAME: 'mymaster' })
    expect(c.redis.sentinel).toEqual({ sentinels: ['10.0.0.5:26379', '10.0.0.6:26379'], name: 'mymaster' })
    expect(() => buildConfig({ redis: { sentinel: { sentinels: ['no-port'], name: 'm' } } }, {})).toThrow(/redis\.sentinel\.sentinels\[0\]/)
  })

  it('takes a Redis Cluster from REDIS_CLUSTER_NODES, and one way to Redis only', () => {
    const c = buildConfig({}, { REDIS_CLUSTER_NODES: '10.0.0.7:7000,10.0.0.8:7000' })
    expect(c.redis.cluster).toEqual({ nodes: ['10.0.0.7:7000', '10.0.0.8:7000'] })
    expect(() => buildConfig({ redis: { cluster: { nodes: ['10.0.0.7'] } } }, {})).toThrow(/redis\.cluster\.nodes\[0\]/)
    expect(() => buildConfig({}, { REDIS_CLUSTER_NODES: '10.0.0.7:7000', REDIS_URL: 'redis://x:6379' })).toThrow(
      /set only one of redisUrl \(REDIS_URL\), redis\.cluster \(REDIS_CLUSTER_NODES\)/,
    )
  })

  it('waits for replicas only with Redis, and within the command timeout', () => {
    const nodes = { cluster: { nodes: ['10.0.0.7:7000'] } }
    expect(buildConfig({ redis: { ...nodes, waitReplicas: { replicas: 1 } } }, {}).redis.waitReplicas).toEqual({ replicas: 1, timeoutMs: 500 })
    expect(() => buildConfig({ redis: { waitReplicas: { replicas: 1 } } }, {})).toThrow(/redis\.waitReplicas needs Redis/)
    expect(() => buildConfig({ redis: { ...nodes, waitReplicas: { replicas: 1, timeoutMs: 1_000 } } }, {})).toThrow(
      /redis\.waitReplicas\.timeoutMs \(1000\) must be less than redis\.commandTimeoutMs \(1000\)/,
    )
  })

  it('keeps 100 events per stream for 300 s, and the stream positions for a day', () => {
    expect(config.realtime.history).toEqual({ size: 100, ttlSeconds: 300, metaTtlSeconds: 86_400 })
    expect(buildConfig({ realtime: { history: { size: 0 } } }, {}).realtime.history.size).toBe(0)
    expect(() => buildConfig({ realtime: { history: { size: -1 } } }, {})).toThrow(/^realtime\.history\.size /)
    expect(() => buildConfig({ realtime: { histroy: {} } }, {})).toThrow(/realtime/)
  })

  it("holds seed 001's routing table and proxy routes", () => {
    expect(config.events.routes.map((r) => r.service)).toEqual(['lobby', 'lobby', 'measurement', 'simulation'])
    expect(config.proxy.routes.map((r) => [r.prefix, r.service, r.auth])).toEqual([
      ['/v1/measurement', 'measurement', 'none'],
      ['/v1/jobs', 'measurement', 'none'],
      ['/v1/simulation', 'simulation', 'none'],
    ])
  })

  it('is frozen all the way down', () => {
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.rateLimit)).toBe(true)
    expect(Object.isFrozen(config.events.routes[0]!.match)).toBe(true)
    expect(() => {
      ;(config.rateLimit as { rps: number }).rps = 1
    }).toThrow(TypeError)
  })
})

describe('config sources', () => {
  it('reads YAML and JSON files', () => {
    const yaml = loadConfig({ file: file('a.yaml', 'port: 9001\nrateLimit: { rps: 2.5 }\n'), env: {} })
    expect(yaml.port).toBe(9001)
    expect(yaml.rateLimit).toEqual({ rps: 2.5, burst: 20 })
    const json = loadConfig({ file: file('a.json', '{"port": 9002, "auth": {"internalToken": "t"}}'), env: {} })
    expect(json.port).toBe(9002)
    expect(json.auth.internalToken).toBe('t')
  })

  it('lets env win over the file, with the seed names', () => {
    const f = file('b.yaml', 'port: 9001\nrateLimit: { rps: 3, burst: 4 }\nservices: { lobby: { url: "http://file:1" } }\n')
    const c = loadConfig({
      file: f,
      env: {
        PORT: '9100',
        HOST: '127.0.0.1',
        REDIS_URL: 'redis://127.0.0.1:6390',
        LOBBY_URL: 'http://lobby.internal:8000',
        MEASUREMENT_URL: 'http://m:1',
        SIMULATION_URL: 'http://s:2',
        INTERNAL_AUTH_TOKEN: 'secret',
        MAX_MESSAGE_BYTES: '1024',
        RATE_LIMIT_RPS: '10.0',
        RATE_LIMIT_BURST: '30',
        HTTP_TIMEOUT_SECONDS: '2.5',
      },
    })
    expect(c.port).toBe(9100)
    expect(c.host).toBe('127.0.0.1')
    expect(c.redisUrl).toBe('redis://127.0.0.1:6390')
    expect(c.services.lobby!.url).toBe('http://lobby.internal:8000')
    expect(c.services.measurement!.url).toBe('http://m:1')
    expect(c.services.simulation!.url).toBe('http://s:2')
    expect(c.auth.internalToken).toBe('secret')
    expect(c.maxMessageBytes).toBe(1024)
    expect(c.rateLimit).toEqual({ rps: 10, burst: 30 })
    expect(c.httpTimeoutSeconds).toBe(2.5)
  })

  it('treats an empty env var as unset', () => {
    const c = buildConfig({ port: 9003 }, { PORT: '', REDIS_URL: '' })
    expect(c.port).toBe(9003)
    expect(c.redisUrl).toBeUndefined()
  })

  it('keeps a seed service URL when the file only changes its pool size', () => {
    const c = buildConfig({ services: { lobby: { connections: 4 }, extra: { url: 'http://extra:1' } } }, {})
    expect(c.services.lobby).toEqual({ url: 'http://lobby:8000', connections: 4 })
    expect(c.services.extra).toEqual({ url: 'http://extra:1', connections: 128 })
  })
})

describe('rooms config', () => {
  it("creates seed 003's server pool: least-loaded over gxy1 … gxy12", () => {
    const c = buildConfig({}, {})
    expect(c.rooms.serverPool).toBe('janus')
    expect(c.rooms.pools.janus).toMatchObject({ strategy: 'least-loaded', capacity: 200 })
    expect(c.rooms.pools.janus!.nodes).toEqual(['gxy1', 'gxy2', 'gxy3', 'gxy4', 'gxy5', 'gxy6', 'gxy7', 'gxy8', 'gxy9', 'gxy10', 'gxy11', 'gxy12'])
    expect(c.rooms).toMatchObject({ idleTimeoutSeconds: 60, presenceTtlSeconds: 30, serverApiAuth: 'none' })
    expect(c.rooms.legacyPool).toBeUndefined()
  })

  it('fills the server pool from AVAILABLE_JANUS_SERVERS, whatever it is called', () => {
    expect(buildConfig({}, { AVAILABLE_JANUS_SERVERS: 'a, b,c' }).rooms.pools.janus!.nodes).toEqual(['a', 'b', 'c'])
    const named = buildConfig({ rooms: { serverPool: 'media', pools: { media: { strategy: 'fill', nodes: ['x'] } } } }, { AVAILABLE_JANUS_SERVERS: 'm1,m2' })
    expect(named.rooms.pools.media).toMatchObject({ strategy: 'fill', nodes: ['m1', 'm2'] })
  })

  it("maps seed 002's env vars, adding API_GATEWAY_KEY to the file's keys", () => {
    const c = buildConfig(
      { auth: { apiKeys: ['from-file'] } },
      {
        API_GATEWAY_KEY: 'demo-api-key-2024',
        JOBS_ROOT: '/mnt/cache',
        CACHE_PROGRESS_FILE_THRESHOLD: '25',
        CACHE_PROGRESS_TIME_THRESHOLD: '500',
        BACKEND_WS_URL: 'ws://backend:3002',
        S3_HEALTH_BUCKET: 'my-bucket',
        S3_REGION: 'eu-west-1',
        S3_ENDPOINT: 'http://127.0.0.1:9000',
        S3_CHECK_INTERVAL: '1000',
      },
    )
    expect(c.auth.apiKeys).toEqual(['from-file', 'demo-api-key-2024'])
    expect(c.jobs).toMatchObject({ root: '/mnt/cache', progressFileThreshold: 25, progressTimeThresholdMs: 500, backendWsUrl: 'ws://backend:3002' })
    expect(c.health).toMatchObject({ intervalMs: 1000, s3: { bucket: 'my-bucket', region: 'eu-west-1', endpoint: 'http://127.0.0.1:9000' } })
    expect(buildConfig({}, { API_GATEWAY_KEY: 'k' }).auth.apiKeys).toEqual(['k'])
  })

  it("has seed 002's defaults", () => {
    const c = buildConfig({}, {})
    expect(c.jobs).toMatchObject({
      mountPrefixes: ['/Volumes/dmpfs/tc-east-1', 'C:\\dmpfs\\tc-east-1', '/mnt/lucidlink/tc-east-1'],
      concurrency: 4,
      progressFileThreshold: 10,
      progressTimeThresholdMs: 2000,
      rateLimit: { perMinute: 10 },
    })
    expect(c.jobs.root).toBeUndefined()
    expect(c.health).toMatchObject({ intervalMs: 5000, s3: { region: 'us-east-1' }, checks: [] })
  })

  it('takes jobs.root relative to the config file', () => {
    const c = loadConfig({ file: file('jobs.yaml', 'jobs:\n  root: ./cache\n'), env: {} })
    expect(c.jobs.root).toBe(join(dir, 'cache'))
  })

  it('names the key of a bad health check by its kind', () => {
    expect(() => buildConfig({ health: { checks: [{ name: 'x', kind: 'http' }] } }, {})).toThrow(/^health\.checks\[0\] must have required properties url$/)
    expect(() => buildConfig({ health: { checks: [{ name: 'x', kind: 'ftp' }] } }, {})).toThrow(/^health\.checks\[0\]\.kind must be "http" or "s3"$/)
  })

  it('takes a legacy exclusive pool with its control URLs', () => {
    const c = buildConfig(
      {
        auth: { bearerTokens: ['t'] },
        rooms: {
          legacyPool: 'gw',
          pools: { gw: { strategy: 'exclusive', nodes: ['10.0.0.1'], progressUrl: 'http://{node}:9001/progress?room={room}' } },
        },
      },
      {},
    )
    expect(c.rooms.pools.gw).toMatchObject({ strategy: 'exclusive', monitorIntervalMs: 5000, downAfterPolls: 3 })
  })

  const gw = (extra: Record<string, unknown> = {}) => ({
    auth: { bearerTokens: ['t'] },
    rooms: { legacyPool: 'gw', pools: { gw: { strategy: 'exclusive', nodes: ['n'], progressUrl: 'http://{node}/p', ...extra } } },
  })
  const cases: Array<{ desc: string; tree: Record<string, unknown>; error: RegExp }> = [
    { desc: 'unknown strategy', tree: { rooms: { pools: { janus: { strategy: 'random', nodes: ['a'] } } } }, error: /rooms\.pools\.janus\.strategy must be one of/ },
    { desc: 'no nodes', tree: { rooms: { pools: { extra: { strategy: 'fill', nodes: [] } } } }, error: /rooms\.pools\.extra\.nodes must list at least one node/ },
    { desc: 'a node twice', tree: { rooms: { pools: { janus: { strategy: 'fill', nodes: ['a', 'a'] } } } }, error: /lists a node twice/ },
    { desc: 'a node with a pipe', tree: { rooms: { pools: { janus: { strategy: 'fill', nodes: ['a|b'] } } } }, error: /rooms\.pools\.janus\.nodes\[0\] must match pattern/ },
    { desc: 'capacity 0', tree: { rooms: { pools: { janus: { strategy: 'fill', nodes: ['a'], capacity: 0 } } } }, error: /rooms\.pools\.janus\.capacity must be >= 1/ },
    { desc: 'exclusive without progressUrl', tree: gw({ progressUrl: undefined }), error: /rooms\.pools\.gw\.progressUrl is required/ },
    { desc: 'template without {node}', tree: gw({ progressUrl: 'http://fixed/p' }), error: /rooms\.pools\.gw\.progressUrl must contain \{node\}/ },
    { desc: 'template not a URL', tree: gw({ startUrl: '{node}/start' }), error: /rooms\.pools\.gw\.startUrl must be an http\(s\) URL template/ },
    { desc: 'control URL on a shared pool', tree: { rooms: { pools: { janus: { strategy: 'fill', nodes: ['a'], stopUrl: 'http://{node}/s' } } } }, error: /stopUrl is only for exclusive pools/ },
    { desc: 'legacy pool not defined', tree: { auth: { bearerTokens: ['t'] }, rooms: { legacyPool: 'gw' } }, error: /rooms\.legacyPool "gw" is not defined/ },
    { desc: 'legacy pool not exclusive', tree: { auth: { bearerTokens: ['t'] }, rooms: { legacyPool: 'janus' } }, error: /rooms\.legacyPool "janus" must be an exclusive pool/ },
    { desc: 'legacy pool without tokens', tree: { ...gw(), auth: {} }, error: /auth\.bearerTokens is empty/ },
    { desc: 'exclusive pool that is not the legacy pool', tree: { rooms: { pools: { gw: { strategy: 'exclusive', nodes: ['n'], progressUrl: 'http://{node}/p' } } } }, error: /rooms\.pools\.gw is exclusive but is not rooms\.legacyPool/ },
    { desc: 'server pool exclusive', tree: { ...gw(), rooms: { ...gw().rooms, serverPool: 'gw' } }, error: /rooms\.serverPool "gw" must be a least-loaded or fill pool/ },
    { desc: 'assets dir missing', tree: { assets: { dir: '/definitely/not/here' } }, error: /assets\.dir "\/definitely\/not\/here" is not a directory/ },
  ]
  for (const c of cases) {
    it(c.desc, () => {
      expect(() => buildConfig(c.tree, {})).toThrow(c.error)
    })
  }
})

describe('config errors name the key', () => {
  const cases: Array<{ desc: string; tree?: Record<string, unknown>; env?: Record<string, string>; error: RegExp }> = [
    { desc: 'negative rate', tree: { rateLimit: { rps: -1 } }, error: /rateLimit\.rps must be > 0/ },
    { desc: 'zero burst', tree: { rateLimit: { burst: 0 } }, error: /rateLimit\.burst must be >= 1/ },
    { desc: 'port out of range', tree: { port: 70000 }, error: /^port must be <= 65535/ },
    { desc: 'port not an integer', tree: { port: 80.5 }, error: /^port must be an integer, got 80\.5$/ },
    { desc: 'unknown top-level key', tree: { ratelimit: {} }, error: /^unknown key "ratelimit" \(did you mean "rateLimit"\?\)$/ },
    { desc: 'unknown nested key', tree: { rateLimit: { rsp: 1 } }, error: /^unknown key "rateLimit\.rsp" \(did you mean "rateLimit\.rps"\?\)$/ },
    { desc: 'bad log level', tree: { logLevel: 'loud' }, error: /logLevel must be one of "fatal"/ },
    { desc: 'bad redis url', tree: { redisUrl: 'http://x' }, error: /redisUrl must match pattern/ },
    {
      desc: 'env var that is not a number',
      env: { RATE_LIMIT_RPS: 'fast' },
      error: /^RATE_LIMIT_RPS: rateLimit\.rps must be a number, got "fast"$/,
    },
    { desc: 'env var out of range', env: { MAX_MESSAGE_BYTES: '10' }, error: /^MAX_MESSAGE_BYTES: maxMessageBytes must be >= 64, got 10$/ },
    { desc: 'env integer with a fraction', env: { PORT: '80.5' }, error: /^PORT: port must be an integer, got "80\.5"$/ },
    { desc: 'service url that is not a URL', env: { LOBBY_URL: 'lobby:8000:x' }, error: /services\.lobby\.url must/ },
    { desc: 'service url with another scheme', tree: { services: { lobby: { url: 'ftp://x' } } }, error: /services\.lobby\.url must use http or https/ },
    {
      desc: 'event route to an unknown service',
      tree: { events: { routes: [{ match: ['a.*'], service: 'nope' }] } },
      error: /events\.routes\[0\]\.service "nope" is not defined in services/,
    },
    {
      desc: 'event pattern with a star inside',
      tree: { events: { routes: [{ match: ['a*b'], service: 'lobby' }] } },
      error: /events\.routes\[0\]\.match\[0\] "a\*b" must be/,
    },
    {
      desc: 'proxy route on /',
      tree: { proxy: { routes: [{ prefix: '/', service: 'lobby' }] } },
      error: /proxy\.routes\[0\]\.prefix must not be "\/"/,
    },
    {
      desc: 'proxy route needing bearer tokens that are not configured',
      tree: { proxy: { routes: [{ prefix: '/v1/x', service: 'lobby', auth: 'bearer' }] } },
      error: /proxy\.routes\[0\]\.auth is "bearer" but auth\.bearerTokens is empty/,
    },
    {
      desc: 'proxy route needing device tokens with no key to check them',
      tree: { proxy: { routes: [{ prefix: '/v1/x', service: 'lobby' }, { prefix: '/v1/y', service: 'lobby', auth: 'token' }] } },
      error: /proxy\.routes\[1\]\.auth is token but auth\.devices has no key/,
    },
    { desc: 'wrong type in an array', tree: { auth: { bearerTokens: [1] } }, error: /^auth\.bearerTokens\[0\] must be a string, got a number$/ },
    { desc: 'admin listener on the client port', env: { ADMIN_PORT: '8080' }, error: /admin\.port 8080 must differ from port/ },
    { desc: 'header timeout too small', tree: { http: { headersTimeoutMs: 5 } }, error: /http\.headersTimeoutMs must be >= 100/ },
    { desc: 'no uploads allowed', tree: { http: { maxUploadsPerIp: 0 } }, error: /http\.maxUploadsPerIp must be >= 1/ },
    { desc: 'failed-auth budget of zero', tree: { auth: { failedAttempts: { perMinute: 0 } } }, error: /auth\.failedAttempts\.perMinute must be > 0/ },
  ]
  for (const c of cases) {
    it(c.desc, () => {
      expect(() => buildConfig(c.tree ?? {}, c.env ?? {})).toThrow(c.error)
    })
  }

  it('accepts a token route once auth.devices has a key', () => {
    const routes = [{ prefix: '/v1/y', service: 'lobby', auth: 'token' }]
    for (const devices of [{ hmacSecrets: [{ secretEnv: 'DEVICE_JWT_SECRET' }] }, { jwksUrl: 'https://id.example.com/jwks.json' }]) {
      const c = buildConfig({ auth: { devices }, proxy: { routes } }, { DEVICE_JWT_SECRET: 'a-secret-of-thirty-two-bytes-min' })
      expect(c.proxy.routes[0]!.auth).toBe('token')
    }
  })

  it('reports a missing file and a file that is not a mapping', () => {
    expect(() => loadConfig({ file: join(dir, 'missing.yaml'), env: {} })).toThrow(/cannot read config file .*missing\.yaml/)
    expect(() => loadConfig({ file: file('list.yaml', '- 1\n- 2\n'), env: {} })).toThrow(/must hold a mapping/)
    expect(() => loadConfig({ file: file('bad.yaml', 'port: [1\n'), env: {} })).toThrow(ConfigError)
  })

  it('formats JSON pointers as dotted keys', () => {
    expect(dottedKey('/events/routes/2/service')).toBe('events.routes[2].service')
    expect(dottedKey('/services/lobby/url')).toBe('services.lobby.url')
    expect(dottedKey('')).toBe('')
  })
})

describe('a config file that does not parse', () => {
  it('says where, without quoting the lines around the error (they may hold secrets)', () => {
    const path = file('broken.yaml', 'auth:\n  apiKeys: [ "super-secret-key-123"\nport: 8080\n')
    let message = ''
    try {
      loadConfig({ file: path, env: {} })
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError)
      message = (err as Error).message
    }
    expect(message).toMatch(/is not valid YAML\/JSON: .*line \d+, column \d+$/)
    expect(message).not.toContain('super-secret')
  })
})
