/**
 * The packaging files say what the README and the pack-install test rely on:
 * the Dockerfile builds, packs and installs the tarball with production
 * dependencies only, runs as a non-root user with a health check on /healthz
 * and the example production config; compose.yaml runs roomgate on Redis; the
 * systemd unit raises the open-files limit and reloads on SIGHUP; and the
 * example production config passes roomgate's own validation with its
 * documented environment (secrets only from there).
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { ConfigError, loadConfig } from '../../src/config/load.js'
import { ConfigSchema } from '../../src/config/schema.js'

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url))
const read = (path: string) => readFileSync(root(path), 'utf8')

/** The Dockerfile's instructions, comments dropped and continuation lines joined. */
function instructions(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.replace(/\s+/g, ' ').trim())
    .filter(Boolean)
}

const EXAMPLE = 'config/production.example.yaml'
/** What the example's header says to set, with dummy values. */
const DOCUMENTED_ENV = {
  INTERNAL_AUTH_TOKEN: 'internal-token-for-tests',
  API_GATEWAY_KEY: 'api-key-for-tests',
  DEVICE_JWT_SECRET: 'a-device-jwt-secret-of-32-bytes!!',
}

describe('Dockerfile', () => {
  const lines = instructions(read('Dockerfile'))
  const stages = lines.reduce<string[][]>((acc, line) => {
    if (line.startsWith('FROM ')) acc.push([])
    acc[acc.length - 1]?.push(line)
    return acc
  }, [])
  const [build, runtime] = stages as [string[], string[]]
  const has = (stage: string[], re: RegExp) => stage.some((l) => re.test(l))

  it('has two stages on a slim Node 20 image', () => {
    expect(stages).toHaveLength(2)
    expect(build[0]).toMatch(/^FROM node:20-(bookworm-)?slim AS build$/)
    expect(runtime[0]).toMatch(/^FROM node:20-(bookworm-)?slim$/)
  })

  it('builds with npm ci, npm run build and npm pack, in that order', () => {
    const at = (re: RegExp) => build.findIndex((l) => re.test(l))
    const ci = at(/^RUN npm ci\b/)
    const compile = at(/^RUN npm run build\b/)
    const pack = at(/^RUN npm pack\b/)
    expect(ci).toBeGreaterThan(0)
    expect(compile).toBeGreaterThan(ci)
    expect(pack).toBeGreaterThan(compile)
    // Everything `files` names (and the build needs) reaches the build stage.
    for (const dir of ['bin', 'src', 'public', 'config', 'deploy']) expect(has(build, new RegExp(`^COPY ${dir} `))).toBe(true)
  })

  it('installs the packed tarball with production dependencies only, and nothing from the build tree', () => {
    expect(has(runtime, /^COPY --from=build \S*roomgate-\*\.tgz /)).toBe(true)
    expect(has(runtime, /^RUN npm install --omit=dev .*\.\/roomgate-\*\.tgz/)).toBe(true)
    expect(has(runtime, /^COPY --from=build \S*(node_modules|dist)/)).toBe(false)
    expect(has(runtime, /npm (ci|run build)/)).toBe(false)
  })

  it('runs as a non-root user, exposes 8080 and checks /healthz with Node (no curl)', () => {
    const user = runtime.filter((l) => l.startsWith('USER '))
    expect(user).toHaveLength(1)
    expect(user[0]).not.toMatch(/^USER (root|0)(:|$)/)
    expect(has(runtime, /useradd .*roomgate/)).toBe(true)
    // USER comes before CMD: the process never runs as root.
    expect(runtime.findIndex((l) => l.startsWith('USER '))).toBeLessThan(runtime.findIndex((l) => l.startsWith('CMD ')))
    expect(runtime).toContain('EXPOSE 8080')
    const check = runtime.find((l) => l.startsWith('HEALTHCHECK '))
    expect(check).toMatch(/CMD \["node", "-e", ".*fetch\(.*\/healthz/)
    expect(check).not.toMatch(/curl|wget/)
  })

  it('starts with the example production config copied where CMD reads it', () => {
    expect(runtime).toContain(`COPY ${EXAMPLE} /etc/roomgate/config.yaml`)
    expect(runtime.at(-1)).toBe('CMD ["roomgate", "start", "--config", "/etc/roomgate/config.yaml"]')
    // The command is on PATH for CMD and for `docker exec … roomgate reload`.
    expect(has(runtime, /ln -s \/app\/node_modules\/\.bin\/roomgate \/usr\/local\/bin\/roomgate/)).toBe(true)
  })

  it('says how to raise the open-files limit', () => {
    expect(read('Dockerfile')).toMatch(/--ulimit nofile=\d+/)
  })

  it('keeps node_modules, dist and secrets out of the build context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim())
    for (const entry of ['node_modules', 'dist', '.env', '.git']) expect(ignored).toContain(entry)
  })
})

describe('compose.yaml', () => {
  const compose = parseYaml(read('compose.yaml')) as { services: Record<string, Record<string, unknown>> }

  it('runs roomgate on redis:7 and the demo backend', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['demo', 'redis', 'roomgate'])
    expect(compose.services.redis!.image).toBe('redis:7')
    expect(compose.services.roomgate!.build).toBe('.')
    expect(compose.services.demo!.command).toEqual(['roomgate', 'demo'])
  })

  it('gives roomgate Redis, the demo services, its secrets from the environment and a high open-files limit', () => {
    const roomgate = compose.services.roomgate!
    const env = roomgate.environment as Record<string, string>
    expect(env.REDIS_URL).toMatch(/^redis:\/\/.*@redis:6379$/)
    expect(env.LOBBY_URL).toBe('http://127.0.0.1:8091/lobby')
    for (const secret of ['INTERNAL_AUTH_TOKEN', 'API_GATEWAY_KEY', 'DEVICE_JWT_SECRET']) {
      // Interpolated from the environment (.env), required, never written in the file.
      expect(env[secret]).toMatch(new RegExp(`^\\$\\{${secret}:\\?`))
    }
    expect(roomgate.command).toEqual(['roomgate', 'start', '--config', '/etc/roomgate/config.yaml'])
    expect(roomgate.ulimits).toEqual({ nofile: { soft: 1048576, hard: 1048576 } })
    expect(roomgate.network_mode).toBe('service:demo')
    expect(compose.services.demo!.ports).toContain('8080:8080')
  })
})

describe('deploy/roomgate.service', () => {
  const unit = read('deploy/roomgate.service')
  const directives = new Map(
    unit
      .split('\n')
      .filter((l) => /^[A-Za-z]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
  )

  it('raises the open-files limit, runs as roomgate and reads its secrets from an environment file', () => {
    expect(directives.get('LimitNOFILE')).toBe('1048576')
    expect(directives.get('User')).toBe('roomgate')
    expect(directives.get('EnvironmentFile')).toBe('/etc/roomgate/env')
    expect(directives.get('ExecStart')).toBe('/usr/bin/roomgate start --config /etc/roomgate/config.yaml')
  })

  it('reloads with SIGHUP and stops with SIGTERM, with time to drain', () => {
    expect(directives.get('ExecReload')).toBe('/bin/kill -HUP $MAINPID')
    expect(directives.get('KillSignal')).toBe('SIGTERM')
    // shutdown.drainTimeoutMs (10 s) plus roomgate's own 5 s margin fit in it.
    expect(Number(directives.get('TimeoutStopSec'))).toBeGreaterThanOrEqual(15)
    expect(directives.get('Restart')).toBe('on-failure')
  })

  it('is hardened', () => {
    expect(directives.get('NoNewPrivileges')).toBe('true')
    expect(directives.get('ProtectSystem')).toBe('strict')
    expect(directives.get('PrivateTmp')).toBe('true')
  })
})

describe(EXAMPLE, () => {
  const file = root(EXAMPLE)

  it('passes the config validation of `roomgate start` and `config check` with its documented environment', () => {
    const config = loadConfig({ file, env: DOCUMENTED_ENV })
    expect(config.port).toBe(8080)
    expect(config.auth.internalToken).toBe(DOCUMENTED_ENV.INTERNAL_AUTH_TOKEN)
    expect(config.auth.apiKeys).toEqual([DOCUMENTED_ENV.API_GATEWAY_KEY])
    expect(config.auth.devices.hmacSecrets).toEqual([{ secretEnv: 'DEVICE_JWT_SECRET' }])
    expect(config.admin).toEqual({ port: 9090, host: '127.0.0.1' })
    // The engine comes from REDIS_URL, which the file leaves to the environment.
    expect(config.redisUrl).toBeUndefined()
    expect(loadConfig({ file, env: { ...DOCUMENTED_ENV, REDIS_URL: 'redis://:pw@redis:6379' } }).redisUrl).toBe('redis://:pw@redis:6379')
  })

  it('takes its secrets from the environment only: without it, the device secret is missing', () => {
    expect(() => loadConfig({ file, env: {} })).toThrow(ConfigError)
    expect(() => loadConfig({ file, env: {} })).toThrow(/DEVICE_JWT_SECRET/)
    const text = read(EXAMPLE)
    const parsed = parseYaml(text) as { auth: Record<string, unknown>; redisUrl?: unknown }
    expect(parsed.auth.internalToken).toBeUndefined()
    expect(parsed.auth.bearerTokens).toEqual([])
    expect(parsed.auth.apiKeys).toEqual([])
    expect(parsed.redisUrl).toBeUndefined()
  })

  it('names every top-level section of the config schema, set or commented', () => {
    const text = read(EXAMPLE)
    const sections = Object.keys(ConfigSchema.properties)
    expect(sections.length).toBeGreaterThan(20)
    for (const key of sections) expect(text, key).toMatch(new RegExp(`^(# )?${key}:`, 'm'))
  })
})
