/** A client's status API for the status proxy tests: units that tests change, auth checked, requests counted. */
import { startUpstream, type TestUpstream } from './upstream.js'

export interface FakeClientApi extends TestUpstream {
  units: Array<Record<string, unknown>>
  /** How the answer is wrapped: a bare list, or under `units` or `data`. */
  shape: 'list' | 'units' | 'data'
  /** The Authorization (or other) header value required; undefined: none. */
  expect: { header: string; value: string } | undefined
  /** Answer with this status instead (a failing API). */
  failWith: number | undefined
  delayMs: number
  requests: number
}

export async function startClientApi(): Promise<FakeClientApi> {
  const api = {} as FakeClientApi
  const upstream = await startUpstream((req, res) => {
    api.requests++
    const answer = () => {
      if (api.expect && req.headers[api.expect.header.toLowerCase()] !== api.expect.value) {
        res.writeHead(401, { 'content-type': 'application/json' })
        return res.end('{"error":"unauthorized"}')
      }
      if (api.failWith) {
        res.writeHead(api.failWith)
        return res.end('failing')
      }
      const body = api.shape === 'list' ? api.units : { [api.shape]: api.units }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (api.delayMs > 0) setTimeout(answer, api.delayMs)
    else answer()
  })
  return Object.assign(api, upstream, { units: [], shape: 'list' as const, expect: undefined, failWith: undefined, delayMs: 0, requests: 0 })
}
