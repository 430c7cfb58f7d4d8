/**
 * Sends one client event to its service: `POST {service}/gateway/handle` with
 * `{event, request_id, device_id, data}`. A 2xx JSON reply is the response's
 * data; anything else becomes a RoomgateError with the right code.
 */
import type { Dispatcher } from 'undici'
import { RoomgateError } from '../errors.js'
import { upstreamFailure } from '../upstream/errors.js'
import type { Upstream } from '../upstream/pools.js'
import { errorFromReply } from './reply.js'

export interface EventCall {
  event: string
  request_id?: string | number
  device_id: string
  data: unknown
  /** The device token's claims, when the connection was identified by one. */
  claims?: Readonly<Record<string, unknown>>
}

/** Replies larger than this are refused: they would be pushed whole to a WebSocket client. */
export const MAX_REPLY_BYTES = 4 * 1024 * 1024

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json' }

async function readBounded(body: Dispatcher.ResponseData['body'], service: string): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += (chunk as Buffer).length
    if (size > MAX_REPLY_BYTES) {
      body.destroy()
      throw new RoomgateError('service_reply_too_large', { service, max: MAX_REPLY_BYTES })
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks, size).toString('utf8')
}

/**
 * `signal` bounds the whole call: the wait for a free connection, the request
 * and the reply. Abort it with a `TimeoutError` for `upstream_timeout`.
 * `body` is the JSON text of an `EventCall`.
 */
export async function callService(upstream: Upstream, body: string, signal: AbortSignal): Promise<unknown> {
  const { pool, slots } = upstream.events
  let release: () => void
  try {
    release = await slots.acquire(signal, upstream.name)
  } catch (err) {
    if (err instanceof RoomgateError) throw err
    throw upstreamFailure(upstream.name, signal.reason ?? err)
  }
  try {
    return await exchange(upstream, pool, body, signal)
  } finally {
    release()
  }
}

async function exchange(upstream: Upstream, pool: Upstream['events']['pool'], body: string, signal: AbortSignal): Promise<unknown> {
  let res: Dispatcher.ResponseData
  try {
    res = await pool.request({
      method: 'POST',
      path: `${upstream.basePath}/gateway/handle`,
      headers: JSON_HEADERS,
      body,
      signal,
    })
  } catch (err) {
    throw upstreamFailure(upstream.name, signal.aborted ? signal.reason : err)
  }

  let text: string
  try {
    text = await readBounded(res.body, upstream.name)
  } catch (err) {
    if (err instanceof RoomgateError) throw err
    throw upstreamFailure(upstream.name, signal.aborted ? signal.reason : err)
  }

  let parsed: unknown = null
  let valid = true
  if (text.length > 0) {
    try {
      parsed = JSON.parse(text)
    } catch {
      valid = false
    }
  }
  if (res.statusCode >= 200 && res.statusCode < 300) {
    if (!valid) throw new RoomgateError('service_reply_not_json', { service: upstream.name })
    return parsed
  }
  throw errorFromReply(upstream.name, res.statusCode, valid ? parsed : undefined)
}
