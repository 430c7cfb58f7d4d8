/**
 * `roomgate status SLUG [--follow]`: seed 004's public statuses
 * (GET /api/public/{slug}/status), or with --follow its SSE stream, printing
 * each change until Ctrl-C/SIGTERM. A stream that ends or goes silent is
 * opened again with backoff; the full statuses the server sends on every
 * (re)connection are compared with what was shown, so only changes print.
 */
import { Client, HttpError, type Answer } from './client.js'
import { CliError, EXIT, interruption, pause, usageError } from './exit.js'
import { natural, printJson, table } from './format.js'
import { connection, onlyOptions, type Values } from './options.js'
import { SseParser } from './sse.js'

/** No byte (not even a keepalive ping, every 30 s by default) for this long: the stream is dead. */
export const STREAM_IDLE_MS = 90_000
export const MIN_BACKOFF_MS = 500
export const MAX_BACKOFF_MS = 30_000

type Statuses = Record<string, string>

export async function statusCommand(args: string[], values: Values): Promise<number> {
  onlyOptions(values, 'status', ['url', 'timeout', 'json', 'follow'])
  const slug = args[0]
  if (slug === undefined || args.length > 1) throw usageError('status needs exactly one project SLUG')
  const client = new Client(connection(values))
  const path = `/api/public/${encodeURIComponent(slug)}/status`
  if (values.follow) return follow(client, slug, `${path}/stream`, values.json === true)
  const answer = await client.json<{ project: string; statuses: Statuses; count: number; stale?: boolean }>(path)
  if (typeof answer?.statuses !== 'object' || answer.statuses === null || typeof answer.count !== 'number') {
    throw new CliError(EXIT.failed, `${path} answered without statuses (is ${client.conn.url} a roomgate?)`)
  }
  if (values.json) printJson(answer)
  else {
    const stale = answer.stale ? ' (stale: the client API is failing; these are the last known statuses)' : ''
    console.log(`${answer.project}: ${answer.count} unit${answer.count === 1 ? '' : 's'}${stale}`)
    if (answer.count > 0) console.log(statusTable(answer.statuses))
  }
  return EXIT.ok
}

export function statusTable(statuses: Statuses): string {
  const units = Object.keys(statuses).sort(natural)
  return table(['UNIT', 'STATUS'], units.map((u) => [u, statuses[u]!]))
}

/** What changed from `before` to `after`, one line per unit: `A-101  available -> sold`. */
export function changes(before: Statuses, after: Statuses, at: Date): string[] {
  const stamp = at.toISOString().replace(/\.\d+Z$/, 'Z')
  const units = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort(natural)
  return units
    .filter((u) => before[u] !== after[u])
    .map((u) => `${stamp}  ${u}  ${before[u] ?? '(new)'} -> ${after[u] ?? '(removed)'}`)
}

async function follow(client: Client, slug: string, path: string, json: boolean): Promise<number> {
  const stop = interruption()
  let shown: Statuses | undefined
  let backoff = MIN_BACKOFF_MS
  let connected = false
  try {
    while (!stop.signal.aborted) {
      const idle = new AbortController()
      const signal = AbortSignal.any([stop.signal, idle.signal])
      let reason: string
      try {
        const res = await client.stream(path, { accept: 'text/event-stream', signal })
        if (!connected) console.error(`roomgate: following ${slug} at ${client.conn.url} (Ctrl-C to stop)`)
        else console.error('roomgate: reconnected')
        connected = true
        reason = await read(res, idle, (event, id, data) => {
          if (event !== 'status_update' && event !== 'bulk_update') return
          backoff = MIN_BACKOFF_MS
          if (json) return printJson({ event, id, data })
          const next =
            event === 'status_update'
              ? (data as { statuses: Statuses }).statuses
              : { ...shown, ...(data as { updates: Statuses }).updates }
          if (shown === undefined) console.log(Object.keys(next).length > 0 ? statusTable(next) : `${slug}: no units`)
          else for (const line of changes(shown, next, new Date())) console.log(line)
          shown = next
        })
      } catch (err) {
        if (stop.signal.aborted) break
        // The first connection must work (a typo, a wrong server); a project that disappears ends the watch.
        if (!connected || (err instanceof HttpError && err.exitCode !== EXIT.failed) || !(err instanceof CliError)) throw err
        reason = err.message
      }
      if (stop.signal.aborted) break
      const wait = Math.round(backoff * (0.5 + Math.random() / 2))
      console.error(`roomgate: stream lost (${reason}); reconnecting in ${(wait / 1000).toFixed(1)} s`)
      await pause(wait, stop.signal)
      backoff = Math.min(MAX_BACKOFF_MS, backoff * 2)
    }
  } finally {
    stop.dispose()
  }
  return EXIT.ok
}

/** Reads one stream to its end; resolves with why it ended. Events with bad JSON are skipped. */
async function read(res: Answer, idle: AbortController, onEvent: (event: string, id: string | undefined, data: unknown) => void): Promise<string> {
  const parser = new SseParser()
  const decoder = new TextDecoder()
  let timer = setTimeout(() => idle.abort(), STREAM_IDLE_MS)
  try {
    for await (const chunk of res.body) {
      clearTimeout(timer)
      timer = setTimeout(() => idle.abort(), STREAM_IDLE_MS)
      for (const e of parser.feed(decoder.decode(chunk, { stream: true }))) {
        let data: unknown
        try {
          data = JSON.parse(e.data)
        } catch {
          continue
        }
        onEvent(e.event, e.id, data)
      }
    }
    return 'the server closed it'
  } catch (err) {
    if (idle.signal.aborted) return `nothing received for ${STREAM_IDLE_MS / 1000} s`
    // The caller tells a stop (Ctrl-C) from a lost connection by its own signal.
    return `connection lost: ${(err as Error).message}`
  } finally {
    clearTimeout(timer)
  }
}
