/** GET /assets/{file}: seed 000's static downloads, no auth, Range, nothing outside the folder. */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { closeGates, startGate, type TestGate } from '../helpers/gate.js'

const base = mkdtempSync(join(tmpdir(), 'roomgate-assets-'))
const dir = join(base, 'assets')
const content = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251))
let gate: TestGate

beforeAll(async () => {
  mkdirSync(join(dir, 'sub'), { recursive: true })
  writeFileSync(join(dir, 'assets.tar.xz'), content)
  writeFileSync(join(dir, 'sub', 'nested.txt'), 'nested')
  writeFileSync(join(dir, '.secret'), 'dotfile')
  writeFileSync(join(base, 'outside.txt'), 'outside the folder')
  symlinkSync(join(base, 'outside.txt'), join(dir, 'escape.txt'))
  symlinkSync(base, join(dir, 'escape-dir'))
  gate = await startGate({ assets: { dir }, auth: { bearerTokens: ['t'] } })
})
afterAll(async () => {
  await closeGates()
})

/** Sends a raw request line, so no client normalises the path first. */
async function raw(path: string): Promise<string> {
  const socket = connect(Number(new URL(gate.url).port), '127.0.0.1')
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
  let text = ''
  for await (const chunk of socket) text += String(chunk)
  return text
}

describe('assets', () => {
  it('is in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${gate.url}/docs/json`)).json()) as { paths: Record<string, Record<string, { tags?: string[] }>> }
    const path = Object.keys(doc.paths).find((p) => p.startsWith('/assets/'))
    expect(path).toBeDefined()
    expect(doc.paths[path!]!.get?.tags).toEqual(['assets'])
  })

  it('serves a file without credentials', async () => {
    const res = await request(`${gate.url}/assets/assets.tar.xz`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['accept-ranges']).toBe('bytes')
    expect(Buffer.from(await res.body.arrayBuffer())).toEqual(content)
    expect(await (await request(`${gate.url}/assets/sub/nested.txt`)).body.text()).toBe('nested')
  })

  it('answers byte ranges', async () => {
    const res = await request(`${gate.url}/assets/assets.tar.xz`, { headers: { range: 'bytes=100-199' } })
    expect(res.statusCode).toBe(206)
    expect(res.headers['content-range']).toBe('bytes 100-199/4096')
    expect(Buffer.from(await res.body.arrayBuffer())).toEqual(content.subarray(100, 200))
    const bad = await request(`${gate.url}/assets/assets.tar.xz`, { headers: { range: 'bytes=5000-6000' } })
    expect(bad.statusCode).toBe(416)
    await bad.body.dump()
  })

  it('never serves anything outside the folder, however the path is written', async () => {
    const attempts = [
      '/assets/../package.json',
      '/assets/%2e%2e/outside.txt',
      '/assets/..%2foutside.txt',
      '/assets/%2e%2e%2foutside.txt',
      '/assets/sub/../../outside.txt',
      '/assets/sub%2f..%2f..%2foutside.txt',
      '/assets/..%5coutside.txt',
      '/assets/%252e%252e/outside.txt',
      '/assets/escape.txt',
      '/assets/escape-dir/outside.txt',
      '/assets/assets.tar.xz%00.txt',
      '/assets/.secret',
      '/assets/sub/',
      '/assets/',
    ]
    for (const path of attempts) {
      const text = await raw(path)
      expect(text, path).toMatch(/^HTTP\/1\.1 (400|403|404)/)
      expect(text, path).not.toContain('outside the folder')
      expect(text, path).not.toContain('dotfile')
      expect(text, path).toContain('"success":false')
    }
  })
})
