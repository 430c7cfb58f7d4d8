/**
 * Checks that JSON Schema cannot express: URLs that parse, routes that name a
 * configured service, patterns the router understands. Each message names the
 * dotted key.
 */
import { isIP } from 'node:net'
import type { Config } from './schema.js'
import { checkRooms } from './rooms-checks.js'
import { hasKeySource } from './device-keys.js'
import { checkHealthConfig } from '../health/specs.js'

const PATTERN = /^(\*|[^*\s]+(\.\*)?)$/

export function checkConfig(config: Config): string[] {
  const problems: string[] = []
  const services = new Set(Object.keys(config.services))
  problems.push(...checkRedis(config))

  for (const [name, s] of Object.entries(config.services)) {
    let url: URL | undefined
    try {
      url = new URL(s.url)
    } catch {
      problems.push(`services.${name}.url must be an absolute http(s) URL, got ${JSON.stringify(s.url)}`)
      continue
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      problems.push(`services.${name}.url must use http or https, got ${url.protocol}`)
    }
    if (url.search || url.hash) problems.push(`services.${name}.url must not have a query or fragment`)
  }

  config.events.routes.forEach((route, i) => {
    if (!services.has(route.service)) {
      problems.push(`events.routes[${i}].service ${JSON.stringify(route.service)} is not defined in services`)
    }
    route.match.forEach((pattern, j) => {
      if (!PATTERN.test(pattern)) {
        problems.push(
          `events.routes[${i}].match[${j}] ${JSON.stringify(pattern)} must be an event name, a prefix ending in ".*", or "*"`,
        )
      }
    })
  })

  const prefixes = new Set<string>()
  config.proxy.routes.forEach((route, i) => {
    if (!services.has(route.service)) {
      problems.push(`proxy.routes[${i}].service ${JSON.stringify(route.service)} is not defined in services`)
    }
    const prefix = route.prefix.replace(/\/+$/, '')
    if (prefix === '') problems.push(`proxy.routes[${i}].prefix must not be "/" (it would shadow every route)`)
    if (prefixes.has(prefix)) problems.push(`proxy.routes[${i}].prefix ${JSON.stringify(route.prefix)} is listed twice`)
    prefixes.add(prefix)
    if (route.auth === 'bearer' && config.auth.bearerTokens.length === 0) {
      problems.push(`proxy.routes[${i}].auth is "bearer" but auth.bearerTokens is empty`)
    }
    if (route.auth === 'apiKey' && config.auth.apiKeys.length === 0) {
      problems.push(`proxy.routes[${i}].auth is "apiKey" but auth.apiKeys is empty`)
    }
    if (route.auth === 'token' && !hasKeySource(config.auth.devices)) {
      problems.push(`proxy.routes[${i}].auth is token but auth.devices has no key (hmacSecrets, publicKeys or jwksUrl)`)
    }
  })

  config.trustProxy.forEach((entry, i) => {
    if (!isTrustEntry(entry)) {
      problems.push(
        `trustProxy[${i}] ${JSON.stringify(entry)} must be an IP address, a CIDR, or one of loopback, linklocal, uniquelocal`,
      )
    }
  })

  if (config.admin.port !== undefined && config.admin.port !== 0 && config.admin.port === config.port) {
    problems.push(`admin.port ${config.admin.port} must differ from port: the admin listener is a second server`)
  }

  problems.push(...checkRooms(config))
  problems.push(...checkHealthConfig(config))
  return problems
}

const TRUST_KEYWORDS = new Set(['loopback', 'linklocal', 'uniquelocal'])

function isTrustEntry(entry: string): boolean {
  if (TRUST_KEYWORDS.has(entry)) return true
  const [ip, bits, ...rest] = entry.split('/')
  const family = isIP(ip ?? '')
  if (family === 0 || rest.length > 0) return false
  if (bits === undefined) return true
  const n = Number(bits)
  return /^\d+$/.test(bits) && n <= (family === 4 ? 32 : 128)
}

/** One way to reach Redis at a time; `waitReplicas` only with Redis. */
function checkRedis(config: Config): string[] {
  const ways = [
    config.redisUrl !== undefined && 'redisUrl (REDIS_URL)',
    config.redis.sentinel !== undefined && 'redis.sentinel (REDIS_SENTINELS)',
    config.redis.cluster !== undefined && 'redis.cluster (REDIS_CLUSTER_NODES)',
  ].filter((w): w is string => w !== false)
  if (ways.length > 1) return [`set only one of ${ways.join(', ')}`]
  const wait = config.redis.waitReplicas
  if (!wait) return []
  if (ways.length === 0) return ['redis.waitReplicas needs Redis (redisUrl, redis.sentinel or redis.cluster)']
  if (wait.timeoutMs >= config.redis.commandTimeoutMs) {
    return [`redis.waitReplicas.timeoutMs (${wait.timeoutMs}) must be less than redis.commandTimeoutMs (${config.redis.commandTimeoutMs}): WAIT is a command`]
  }
  return []
}
