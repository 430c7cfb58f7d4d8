/**
 * Calls to the nodes of an exclusive pool (seed 000's recording gateways):
 * start and stop notifications, and progress polls. Every call has a deadline
 * and a bounded answer.
 */
import { Agent, request } from 'undici'
import { RoomgateError } from '../errors.js'

/** A progress answer larger than this is not a progress answer. */
const MAX_ANSWER_BYTES = 64 * 1024

/** Fills `{node}` and `{room}` (URL-encoded) into a control URL template. */
export function fillTemplate(template: string, node: string, room: string): string {
  return template.replaceAll('{node}', node).replaceAll('{room}', encodeURIComponent(room))
}

export interface Progress {
  gwState: string
  duration: string
  progress: string
}

/** A field for seed 000's value: text without `|` or control characters, at most 64 characters. */
export function valueField(v: unknown): string {
  if (v === null || v === undefined) return ''
  const text = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : ''
  // eslint-disable-next-line no-control-regex
  return text.replace(/[|\u0000-\u001f\u007f]/g, '').slice(0, 64)
}

export class NodeControl {
  private readonly agent: Agent

  constructor(private readonly timeoutMs: number) {
    this.agent = new Agent({ headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connectTimeout: timeoutMs })
  }

  /** POSTs a start or stop notification; anything but a 2xx is a failure. */
  async notify(url: string): Promise<void> {
    const { statusCode } = await this.fetch(url, 'POST')
    if (statusCode < 200 || statusCode > 299) throw new Error(`answered ${statusCode}`)
  }

  /** GETs `{gw_state, recording_duration, transcript_progress}`. Throws when the node cannot answer that. */
  async progress(url: string): Promise<Progress> {
    const { statusCode, text } = await this.fetch(url, 'GET')
    if (statusCode < 200 || statusCode > 299) throw new Error(`answered ${statusCode}`)
    const body = JSON.parse(text) as Record<string, unknown> | null
    if (typeof body !== 'object' || body === null) throw new Error('answer is not a JSON object')
    return {
      gwState: valueField(body.gw_state).toLowerCase(),
      duration: valueField(body.recording_duration),
      progress: valueField(body.transcript_progress),
    }
  }

  close(): Promise<void> {
    return this.agent.close()
  }

  private async fetch(url: string, method: 'GET' | 'POST'): Promise<{ statusCode: number; text: string }> {
    const res = await request(url, { method, dispatcher: this.agent, signal: AbortSignal.timeout(this.timeoutMs) })
    let size = 0
    const chunks: Buffer[] = []
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length
      if (size > MAX_ANSWER_BYTES) {
        res.body.destroy()
        throw new RoomgateError('node_answer_too_large', { max: MAX_ANSWER_BYTES })
      }
      chunks.push(chunk as Buffer)
    }
    return { statusCode: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }
  }
}
