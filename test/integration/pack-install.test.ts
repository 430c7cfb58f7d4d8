/**
 * The package as npm would publish it, installed as the Dockerfile installs
 * it: `npm pack`, then `npm install --omit=dev` of the tarball in an empty
 * folder (from the registry: production dependencies only), then the
 * installed `roomgate start` with config/production.example.yaml and its
 * documented secrets in the environment. The page files, the built client and
 * the docs must all be in the tarball: a folder missing from package.json's
 * "files" fails here, not in production.
 *
 * Packing: `npm pack --ignore-scripts`, from the dist/ that `npm test` (and
 * `npm run build`) has just built. Without the flag npm would run `prepare`
 * (the tsc build) again, rewriting dist/ while other test files run
 * bin/roomgate.js from it. A dist/ older than src/ is refused, so a stale
 * build is never packed.
 *
 * It needs npm and the registry. When either is missing it fails, with npm's
 * own message: it never skips.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, expect, it } from 'vitest'
import { request } from 'undici'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm'
/** The secrets the example config's header names (dummy values). */
const SECRETS = {
  INTERNAL_AUTH_TOKEN: 'pack-test-internal-token',
  API_GATEWAY_KEY: 'pack-test-api-key',
  DEVICE_JWT_SECRET: 'pack-test-device-jwt-secret-32-bytes!',
}

const work = mkdtempSync(join(tmpdir(), 'roomgate-pack-'))
let server: ChildProcess | undefined
afterAll(() => {
  server?.kill('SIGKILL')
  rmSync(work, { recursive: true, force: true })
})

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a command to its end; its output is kept for the failure message. */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

function mustSucceed(what: string, r: Run): void {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr.slice(-4000)}\n${r.stdout.slice(-2000)}`)
}

/** Every file under `dir`, newest modification time. */
function newest(dir: string): { path: string; mtime: number } {
  let best = { path: dir, mtime: 0 }
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    const mtime = statSync(path).mtimeMs
    if (mtime > best.mtime) best = { path, mtime }
  }
  return best
}

function fmtBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`
}

it('packs, installs with production dependencies only, and serves /healthz, /docs and /dashboard from the install', { timeout: 240_000 }, async () => {
  // dist/ must be the build of these sources (npm test builds before it runs the tests).
  const built = join(ROOT, 'dist', 'cli.js')
  if (!existsSync(built)) throw new Error('dist/ is missing: run `npm run build` first (npm test does)')
  const src = newest(join(ROOT, 'src'))
  const dist = newest(join(ROOT, 'dist'))
  if (src.mtime > dist.mtime) {
    throw new Error(`dist/ is older than ${relative(ROOT, src.path)}: run \`npm run build\` first (npm test does)`)
  }

  // 1. npm pack, as the Dockerfile's build stage does.
  const packDir = join(work, 'pack')
  mkdirSync(packDir)
  const packed = await run(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], ROOT)
  mustSucceed('npm pack', packed)
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string; size: number; unpackedSize: number; files: Array<{ path: string }> }>
  const files = info!.files.map((f) => f.path)
  // What the running server reads from its own package.
  for (const needed of ['bin/roomgate.js', 'dist/cli.js', 'dist/client/index.js', 'public/dashboard/index.html', 'public/dashboard/app.js', 'config/production.example.yaml', 'deploy/roomgate.service', 'LICENSE', 'CHANGELOG.md', 'README.md', 'package.json']) {
    expect(files, `${needed} in the tarball`).toContain(needed)
  }
  // Nothing of the development tree.
  expect(files.filter((f) => /^(src|test|bench|node_modules|scripts)\//.test(f))).toEqual([])
  const tarball = join(packDir, info!.filename)
  expect(existsSync(tarball)).toBe(true)

  // 2. An empty folder, the tarball installed as the Dockerfile's runtime stage does: from the registry.
  const app = join(work, 'app')
  mkdirSync(app)
  const started = Date.now()
  const installEnv = { ...process.env, npm_config_update_notifier: 'false', npm_config_loglevel: 'warn' }
  const installed = await run(NPM, ['install', '--omit=dev', '--no-audit', '--no-fund', tarball], app, installEnv)
  mustSucceed(`npm install --omit=dev ${info!.filename} (needs npm and the registry)`, installed)
  const installMs = Date.now() - started
  const pkg = join(app, 'node_modules', 'roomgate')
  expect(existsSync(join(pkg, 'dist', 'cli.js'))).toBe(true)
  // Production dependencies only: no compiler, no test runner.
  for (const dev of ['typescript', 'vitest', 'eslint']) expect(existsSync(join(app, 'node_modules', dev)), dev).toBe(false)
  console.log(`pack-install: tarball ${fmtBytes(info!.size)} (${fmtBytes(info!.unpackedSize)} unpacked, ${files.length} files), npm install --omit=dev ${(installMs / 1000).toFixed(1)} s`)

  // 3. The installed command, with the example production config and its secrets from the environment.
  const etc = join(work, 'etc')
  mkdirSync(etc)
  const config = join(etc, 'config.yaml')
  copyFileSync(join(pkg, 'config', 'production.example.yaml'), config)
  const bin = join(app, 'node_modules', '.bin', 'roomgate')
  const env = { PATH: process.env.PATH, ...SECRETS, PORT: '0', HOST: '127.0.0.1', ADMIN_PORT: '0' }

  const check = await run(bin, ['config', 'check', '--config', config], app, env)
  mustSucceed('roomgate config check', check)
  expect(check.stdout).toMatch(/^ok: /)

  server = spawn(bin, ['start', '--config', config], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const proc = server
  let out = ''
  let err = ''
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')))
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "roomgate listening" line in 30 s.\nstdout: ${out}\nstderr: ${err}`)), 30_000)
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString('utf8')
      const line = out.split('\n').find((l) => l.includes('"roomgate listening"'))
      if (!line) return
      clearTimeout(timer)
      const { url } = JSON.parse(line) as { url: string }
      resolve(url.replace('0.0.0.0', '127.0.0.1'))
    })
    void exited.then((code) => reject(new Error(`roomgate exited with ${code} before listening.\nstdout: ${out}\nstderr: ${err}`)))
  })

  const get = async (path: string) => {
    const res = await request(`${base}${path}`)
    const body = await res.body.text()
    return { status: res.statusCode, type: String(res.headers['content-type'] ?? ''), body, location: res.headers.location }
  }
  const health = await get('/healthz')
  expect(health.status).toBe(200)
  expect(JSON.parse(health.body)).toMatchObject({ status: 'ok', engine: 'memory' })

  const docsJson = await get('/docs/json')
  expect(docsJson.status).toBe(200)
  expect(JSON.parse(docsJson.body)).toMatchObject({ openapi: expect.stringMatching(/^3\.1/) })
  // The docs page: /docs itself or where it sends the browser, then its script.
  let docsPath = '/docs'
  let docs = await get(docsPath)
  if (docs.status >= 300 && docs.status < 400 && typeof docs.location === 'string') {
    docsPath = new URL(docs.location, `${base}${docsPath}`).pathname
    docs = await get(docsPath)
  }
  expect(docs.status).toBe(200)
  expect(docs.type).toMatch(/text\/html/)
  // Its scripts and styles (from @fastify/swagger-ui), resolved as a browser would.
  const linked = [...docs.body.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((m) => new URL(m[1]!, `${base}${docsPath}`).pathname)
  expect(linked.length).toBeGreaterThan(0)
  for (const path of linked) expect((await get(path)).status, path).toBe(200)

  const dashboard = await get('/dashboard')
  expect(dashboard.status).toBe(200)
  expect(dashboard.type).toMatch(/text\/html/)
  // Its files: from public/dashboard/ and from the uplot dependency.
  for (const file of ['app.js', 'dashboard.css', 'uPlot.iife.min.js', 'uPlot.min.css']) {
    expect((await get(`/dashboard/${file}`)).status, file).toBe(200)
  }
  // The device client, built into dist/client/.
  const client = await get('/client.js')
  expect(client.status).toBe(200)
  expect(client.body).toContain('RoomgateClient')

  // 4. SIGTERM: a clean stop.
  proc.kill('SIGTERM')
  expect(await exited).toBe(0)
  expect(out).toContain('roomgate stopped')
  server = undefined
})
