/**
 * The health section turned into the list of checks to run, and the checks of
 * that section that JSON Schema cannot express (unique names, URLs that
 * parse). No network here: config/checks.ts imports it.
 */
import { SEED_S3_CHECK, type HealthConfig } from '../config/health-schema.js'

export type CheckSpec =
  | { kind: 's3'; name: string; bucket: string; region: string; endpoint?: string | undefined }
  | { kind: 'http'; name: string; url: string; expectStatus?: number | undefined }

/** The seed's `health.s3` first (when it names a bucket), then `health.checks` in order. */
export function checkSpecs(health: HealthConfig): CheckSpec[] {
  const specs: CheckSpec[] = []
  const { s3 } = health
  if (s3.bucket !== undefined) {
    specs.push({ kind: 's3', name: SEED_S3_CHECK, bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint })
  }
  for (const c of health.checks) {
    if (c.kind === 's3') {
      specs.push({ kind: 's3', name: c.name, bucket: c.bucket, region: c.region ?? s3.region, endpoint: c.endpoint })
    } else {
      specs.push({ kind: 'http', name: c.name, url: c.url, expectStatus: c.expectStatus })
    }
  }
  return specs
}

function urlProblem(text: string, { credentials }: { credentials: boolean }): string | undefined {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return `must be an absolute http(s) URL, got ${JSON.stringify(text)}`
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must use http or https, got ${url.protocol}`
  if (!credentials && (url.username || url.password)) return 'must not carry credentials (the AWS credential chain signs requests)'
  return undefined
}

/** Problems with the health section, each naming its dotted key. */
export function checkHealthConfig(config: { readonly health: HealthConfig }): string[] {
  const problems: string[] = []
  const { health } = config
  const names = new Map<string, string>()
  if (health.s3.bucket !== undefined) names.set(SEED_S3_CHECK, 'health.s3')

  if (health.s3.endpoint !== undefined) {
    const problem = urlProblem(health.s3.endpoint, { credentials: false })
    if (problem) problems.push(`health.s3.endpoint ${problem}`)
  }
  health.checks.forEach((c, i) => {
    const at = `health.checks[${i}]`
    const taken = names.get(c.name)
    if (taken !== undefined) problems.push(`${at}.name ${JSON.stringify(c.name)} is already used by ${taken}`)
    else names.set(c.name, at)
    // Basic auth in a health URL is fine; an S3 endpoint is signed, never given a password.
    const [key, url, credentials] = c.kind === 'http' ? ['url', c.url, true] : ['endpoint', c.endpoint, false]
    const problem = url === undefined ? undefined : urlProblem(url, { credentials })
    if (problem) problems.push(`${at}.${key} ${problem}`)
  })
  return problems
}
