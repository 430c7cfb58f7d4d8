// Scenario ws-connect: new identified WebSocket connections per second, on one
// roomgate with device-token keys configured:
// - none:  /ws?device_id=… (seed 001's claimed identity, nothing verified);
// - HS256: /ws?token=… signed with an HMAC secret;
// - ES256: /ws?token=… signed with a P-256 key (roomgate holds its public PEM).
// Tokens are signed before the round (distinct per connection). Each round
// opens `connections` sockets, `inFlight` at a time, from this process, and
// closes them all; connects/s = connections / time to the last open. Rounds
// rotate the order; ratios are medians of per-round ratios against `none`.
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import WebSocket from 'ws'
import { fixed, isMain, median, pairedRatio, printResult, runRounds, startRoomgate, stop } from './lib.js'

const KINDS = ['none', 'HS256', 'ES256']

async function tokens(kind, keys, n, run) {
  if (kind === 'none') return Array.from({ length: n }, (_, i) => `device_id=r${run}-d${i}`)
  const key = kind === 'HS256' ? keys.secret : keys.ec.privateKey
  const exp = Math.floor(Date.now() / 1000) + 3600
  const out = []
  for (let i = 0; i < n; i++) {
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: kind }).setSubject(`r${run}-d${i}`).setExpirationTime(exp).sign(key)
    out.push(`token=${jwt}`)
  }
  return out
}

/** Opens every url, `inFlight` at a time; resolves with the sockets and the seconds it took. */
async function openAll(base, queries, inFlight) {
  const sockets = []
  let next = 0
  const started = performance.now()
  const one = () =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`${base}?${queries[next++]}`)
      sockets.push(ws)
      ws.once('open', resolve)
      ws.once('error', reject)
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)))
    })
  const lane = async () => {
    while (next < queries.length) await one()
  }
  await Promise.all(Array.from({ length: inFlight }, lane))
  const seconds = (performance.now() - started) / 1000
  return { sockets, seconds }
}

async function closeAll(sockets) {
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve()
          ws.once('close', resolve)
          ws.terminate()
        }),
    ),
  )
}

export async function wsConnectScenario({ quick, rounds = quick ? 3 : 7, connections = quick ? 500 : 2_000, inFlight = 50 }) {
  const secret = randomBytes(32).toString('hex')
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const pem = join(tmpdir(), `roomgate-bench-es256-${process.pid}.pem`)
  writeFileSync(pem, ec.publicKey.export({ type: 'spki', format: 'pem' }))
  const { proc, port } = await startRoomgate({
    file: join(tmpdir(), `roomgate-bench-ws-connect-${process.pid}.json`),
    config: {
      ws: { pingIntervalMs: 86_400_000, maxConnectionsPerIp: 1_000_000 },
      auth: { failedAttempts: { perMinute: 1_000_000, burst: 1_000_000 }, devices: { hmacSecrets: [{ secretEnv: 'BENCH_JWT_SECRET' }], publicKeys: [{ file: pem }] } },
    },
    env: { BENCH_JWT_SECRET: secret },
  })
  const base = `ws://127.0.0.1:${port}/ws`
  const keys = { secret: new Uint8Array(Buffer.from(secret)), ec }
  let run = 0
  try {
    const round = async (kind) => {
      const queries = await tokens(kind, keys, connections, ++run)
      const { sockets, seconds } = await openAll(base, queries, inFlight)
      await closeAll(sockets)
      return { kind, seconds, perS: connections / seconds }
    }
    for (const kind of KINDS) await round(kind) // warm-up
    const samples = await runRounds(KINDS, rounds, round, (x) => `${Math.round(x.perS)} connects/s`)
    const figures = Object.fromEntries(KINDS.map((k) => [k, { connects_per_s: Math.round(median(samples[k].map((x) => x.perS))) }]))
    const ratios = Object.fromEntries(KINDS.map((k) => [k, fixed(pairedRatio(samples[k], samples.none, (x) => x.perS), 2)]))
    return { figures, ratios: { vs_none: ratios }, settings: { rounds, connections, in_flight: inFlight } }
  } finally {
    await stop(proc)
  }
}

if (isMain(import.meta.url)) await printResult(() => wsConnectScenario({ quick: process.argv.includes('--quick') }))
