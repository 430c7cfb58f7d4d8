/**
 * Following one job to its end: live over /ws (`job.subscribe`, then
 * `job.progress` and `job.file` events), and only if the socket cannot be
 * used, by polling GET /api/v1/cache/jobs/{id} every second (waiting out a
 * 429 from the per-key limit). Stopping (Ctrl-C) only stops watching.
 */
import { WebSocket, type RawData } from 'ws'
import type { FileEvent } from '../jobs/events.js'
import type { JobView } from '../jobs/view.js'
import { HttpError, type Client } from './client.js'
import { CliError, EXIT, pause } from './exit.js'

export const POLL_INTERVAL_MS = 1_000
/** No message and no ping (roomgate pings every 25 s by default) for this long: the socket is dead, poll instead. */
export const SOCKET_IDLE_MS = 75_000
/** Without a job event this long, the job is read once over HTTP (events may have been lost). */
export const RECHECK_MS = 30_000
const ENDED = new Set(['completed', 'failed', 'cancelled'])

export const isEnded = (job: JobView) => ENDED.has(job.status)

export interface WatchHandlers {
  job(job: JobView): void
  file(file: FileEvent): void
  /** The socket could not be used: polling instead. */
  fallback(reason: string): void
}

type SocketOutcome = { kind: 'ended'; job: JobView } | { kind: 'stopped' } | { kind: 'failed'; reason: string }

/** The job as it ended, or undefined when `signal` stopped the watch first. */
export async function watchJob(client: Client, id: string, signal: AbortSignal, on: WatchHandlers): Promise<JobView | undefined> {
  const outcome = await overSocket(client, id, signal, on)
  if (outcome.kind === 'ended') return outcome.job
  if (outcome.kind === 'stopped') return undefined
  on.fallback(outcome.reason)
  return poll(client, id, signal, on)
}

function overSocket(client: Client, id: string, signal: AbortSignal, on: WatchHandlers): Promise<SocketOutcome> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return resolve({ kind: 'stopped' })
    const ws = new WebSocket(client.wsUrl('/ws'), { handshakeTimeout: client.conn.timeoutMs, perMessageDeflate: false })
    let done = false
    // The subscription must be answered within the request deadline.
    const answerTimer = setTimeout(() => settle({ kind: 'failed', reason: 'no answer to job.subscribe' }), client.conn.timeoutMs + 1_000)
    let idleTimer: NodeJS.Timeout | undefined
    const settle = (outcome: SocketOutcome | CliError) => {
      if (done) return
      done = true
      clearTimeout(answerTimer)
      clearTimeout(idleTimer)
      clearInterval(recheck)
      signal.removeEventListener('abort', stop)
      ws.removeAllListeners()
      ws.on('error', () => undefined)
      ws.terminate()
      if (outcome instanceof CliError) reject(outcome)
      else resolve(outcome)
    }
    const stop = () => settle({ kind: 'stopped' })
    signal.addEventListener('abort', stop, { once: true })
    const alive = () => {
      clearTimeout(idleTimer)
      idleTimer = setTimeout(() => settle({ kind: 'failed', reason: 'the connection went silent' }), SOCKET_IDLE_MS)
    }
    alive()
    ws.on('ping', alive)
    const seen = (job: JobView) => {
      lastEvent = Date.now()
      on.job(job)
      if (isEnded(job)) settle({ kind: 'ended', job })
    }
    // Events lost on the way (a bus outage on the server) would leave the watch
    // waiting forever: after RECHECK_MS without one, the job is read once.
    let lastEvent = Date.now()
    const recheck = setInterval(() => {
      if (Date.now() - lastEvent < RECHECK_MS) return
      lastEvent = Date.now()
      client.json<{ job: JobView }>(`/api/v1/cache/jobs/${encodeURIComponent(id)}`, { auth: 'key', signal }).then(
        ({ job }) => {
          if (!done && job && isEnded(job)) seen(job)
        },
        () => undefined,
      )
    }, RECHECK_MS / 3)
    ws.on('open', () => {
      ws.send(JSON.stringify({ event: 'job.subscribe', request_id: 'watch', data: { job_id: id, api_key: client.conn.key } }))
    })
    ws.on('message', (raw: RawData) => {
      alive()
      let msg: { type?: string; event?: string; request_id?: unknown; data?: unknown; error?: { code?: string; message?: string } }
      try {
        msg = JSON.parse(raw.toString()) as typeof msg
      } catch {
        return
      }
      if (typeof msg !== 'object' || msg === null) return
      try {
        onMessage(msg)
      } catch (err) {
        settle({ kind: 'failed', reason: `unexpected message: ${(err as Error).message}` })
      }
    })
    const onMessage = (msg: { type?: string; event?: string; request_id?: unknown; data?: unknown; error?: { code?: string; message?: string } }) => {
      if (msg.type === 'response' && msg.request_id === 'watch') {
        clearTimeout(answerTimer)
        const job = (msg.data as { job?: JobView } | null)?.job
        if (job) seen(job)
      } else if (msg.type === 'error' && msg.request_id === 'watch') {
        const code = msg.error?.code
        const text = msg.error?.message ?? code ?? 'refused'
        if (code === 'unauthorized') settle(new CliError(EXIT.unauthorized, `the server refused the API key (job.subscribe ${code}): ${text}`))
        else if (code === 'not_found') settle(new CliError(EXIT.notFound, `the server answered job.subscribe not_found: ${text}`))
        else settle({ kind: 'failed', reason: `job.subscribe ${code ?? 'error'}: ${text}` })
      } else if (msg.type === 'event' && msg.event === 'job.progress') {
        const job = msg.data as JobView | null
        if (job?.id === id) seen(job)
      } else if (msg.type === 'event' && msg.event === 'job.file') {
        const file = msg.data as FileEvent | null
        if (file?.job_id === id) on.file(file)
      }
    }
    ws.on('error', (err) => settle({ kind: 'failed', reason: err.message }))
    ws.on('close', (code) => settle({ kind: 'failed', reason: `connection closed (${code})` }))
  })
}

async function poll(client: Client, id: string, signal: AbortSignal, on: WatchHandlers): Promise<JobView | undefined> {
  let last = ''
  while (!signal.aborted) {
    let wait = POLL_INTERVAL_MS
    try {
      const { job } = await client.json<{ job: JobView }>(`/api/v1/cache/jobs/${encodeURIComponent(id)}`, { auth: 'key', signal })
      // Unchanged answers are not shown again; throughput alone changes every poll.
      const text = JSON.stringify({ ...job, throughput: job.throughput?.mbps ?? null })
      if (text !== last) on.job(job)
      last = text
      if (isEnded(job)) return job
    } catch (err) {
      if (signal.aborted) return undefined
      if (!(err instanceof HttpError) || err.status !== 429) throw err
      wait = Math.max(POLL_INTERVAL_MS, (err.retryAfterSeconds ?? 1) * 1000)
    }
    await pause(wait, signal)
  }
  return undefined
}
