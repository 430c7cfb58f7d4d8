import { describe, expect, it } from 'vitest'
import { ProxyTable, type ProxyRoute } from '../../src/proxy/routes.js'
import { Registry } from '../../src/metrics/registry.js'

const registry = new Registry()
const latency = registry.histogram('l', 'L', ['service']).child('x')
const counted = registry.counter('c', 'C', ['service', 'status'])
const route = (prefix: string, service: string): ProxyRoute => ({ prefix, service, guard: undefined, latency, answered: (status) => counted.child(service, String(status)) })

describe('ProxyTable', () => {
  const table = new ProxyTable()
  table.replace([route('/v1/jobs', 'jobs'), route('/v1/jobs/special', 'special'), route('/v1/sim', 'sim')])

  it.each([
    { desc: 'the prefix itself', url: '/v1/jobs', service: 'jobs' },
    { desc: 'a path under it', url: '/v1/jobs/1', service: 'jobs' },
    { desc: 'its query', url: '/v1/jobs?x=1', service: 'jobs' },
    { desc: 'the longest prefix first', url: '/v1/jobs/special/2', service: 'special' },
    { desc: 'not a look-alike', url: '/v1/jobsx', service: undefined },
    { desc: 'not another path', url: '/v2/jobs', service: undefined },
  ])('matches $desc', ({ url, service }) => {
    expect(table.match(url)?.service).toBe(service)
  })

  it('serves what the last reload gave it, through the catch-all constraint too', () => {
    const t = new ProxyTable()
    const derive = (url: string) => t.constraint().deriveConstraint({ url } as never)
    t.replace([route('/v1/jobs', 'jobs')])
    expect(derive('/v1/new/x')).toBe('no')
    t.replace([route('/v1/new', 'new')])
    expect(derive('/v1/new/x')).toBe('yes')
    expect(t.match('/v1/jobs/1')).toBeUndefined()
  })
})
