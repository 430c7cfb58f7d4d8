/** Checks of the rooms and assets sections that JSON Schema cannot express. */
import { statSync } from 'node:fs'
import type { Config } from './schema.js'

const TEMPLATES = ['progressUrl', 'startUrl', 'stopUrl'] as const

function urlProblem(text: string): string | undefined {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return 'must be an http(s) URL template'
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? undefined : 'must use http or https'
}

export function checkRooms(config: Config): string[] {
  const problems: string[] = []
  const { rooms } = config
  for (const [name, pool] of Object.entries(rooms.pools)) {
    const at = `rooms.pools.${name}`
    if (pool.nodes.length === 0) problems.push(`${at}.nodes must list at least one node`)
    if (new Set(pool.nodes).size !== pool.nodes.length) problems.push(`${at}.nodes lists a node twice`)
    for (const key of TEMPLATES) {
      const template = pool[key]
      if (template === undefined) continue
      if (pool.strategy !== 'exclusive') {
        problems.push(`${at}.${key} is only for exclusive pools`)
        continue
      }
      if (!template.includes('{node}')) problems.push(`${at}.${key} must contain {node}`)
      // Checked with every real node: an IPv6 address, say, needs [brackets] in the template.
      for (const node of pool.nodes.length > 0 ? pool.nodes : ['node.example']) {
        const problem = urlProblem(template.replaceAll('{node}', node).replaceAll('{room}', 'room'))
        if (problem) {
          problems.push(`${at}.${key} ${problem} for node ${JSON.stringify(node)}, got ${JSON.stringify(template)}`)
          break
        }
      }
    }
    if (pool.strategy === 'exclusive') {
      if (pool.progressUrl === undefined) problems.push(`${at}.progressUrl is required for an exclusive pool`)
      if (rooms.legacyPool !== name) {
        problems.push(`${at} is exclusive but is not rooms.legacyPool: only the legacy API places rooms on exclusive pools`)
      }
    }
  }

  const server = rooms.pools[rooms.serverPool]
  if (server?.strategy === 'exclusive') problems.push(`rooms.serverPool ${JSON.stringify(rooms.serverPool)} must be a least-loaded or fill pool`)
  if (rooms.legacyPool !== undefined) {
    const legacy = rooms.pools[rooms.legacyPool]
    if (!legacy) problems.push(`rooms.legacyPool ${JSON.stringify(rooms.legacyPool)} is not defined in rooms.pools`)
    else if (legacy.strategy !== 'exclusive') problems.push(`rooms.legacyPool ${JSON.stringify(rooms.legacyPool)} must be an exclusive pool`)
    if (config.auth.bearerTokens.length === 0) problems.push('rooms.legacyPool is set but auth.bearerTokens is empty (its API needs Bearer tokens)')
  }
  if (rooms.serverApiAuth === 'bearer' && config.auth.bearerTokens.length === 0) {
    problems.push('rooms.serverApiAuth is "bearer" but auth.bearerTokens is empty')
  }

  const dir = config.assets.dir
  if (dir !== undefined) {
    let isDir = false
    try {
      isDir = statSync(dir).isDirectory()
    } catch {
      isDir = false
    }
    if (!isDir) problems.push(`assets.dir ${JSON.stringify(dir)} is not a directory`)
  }
  return problems
}
