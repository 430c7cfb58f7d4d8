/**
 * Job events across the cluster. The instance running a job publishes its
 * progress and per-file results on the bus; every instance passes them to its
 * own WebSocket subscribers (`job.subscribe`), so a dashboard may watch a job
 * running anywhere. The bus also carries cancels (to the running instance),
 * "new job" nudges (so an idle worker starts at once) and each instance's
 * read throughput. Events are best effort: a failed publish is dropped, the
 * stored progress stays the truth.
 */
import type { Engine } from '../engine/types.js'
import { RoomgateError } from '../errors.js'
import { channels } from '../engine/keys.js'
import { OutageLog, type Logger } from '../log.js'
import type { Client } from '../realtime/client.js'
import { eventFrame } from '../realtime/protocol.js'
import { RecentKeys } from '../realtime/recent-keys.js'
import type { Hub } from '../realtime/hub.js'
import { topics } from '../realtime/topics.js'
import { FINISHED, type JobRecord } from './types.js'
import { jobView } from './view.js'

export interface FileEvent {
  job_id: string
  index: number
  path: string
  size: number
  status: 'completed' | 'failed'
  error?: string
}

type Message =
  | { k: 'progress'; job: JobRecord }
  | { k: 'files'; files: FileEvent[] }
  | { k: 'cancel'; id: string }
  | { k: 'new' }
  | { k: 'rate'; instance: string; bps: number; at: number }

/** Every job, for dashboards. */
export const ALL_JOBS = '*'
/** Jobs one connection may watch at once (besides `*`). */
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 32
const JOB_PREFIX = topics.job('')

export interface JobEventHandlers {
  cancel(id: string): void
  created(): void
  rate(instance: string, bps: number, at: number): void
}

export class JobEvents {
  private readonly outage: OutageLog
  private closed = false
  /** Jobs seen ending recently. */
  private readonly ended = new RecentKeys(10_000, 600_000)

  constructor(
    private readonly engine: Engine,
    private readonly hub: Hub,
    private readonly log: Logger,
    private readonly backend: () => { bps: number; at: number } | null,
    private readonly handlers: JobEventHandlers,
  ) {
    this.outage = new OutageLog(log, 'job events not published (bus unavailable); progress is still stored', 'job events flowing again')
  }

  start(): Promise<void> {
    return this.engine.bus.subscribe(channels.jobs, this.receive)
  }

  /** Stops passing events on. The subscription itself ends with the engine (no Redis round trip at shutdown). */
  close(): void {
    this.closed = true
  }

  /** Watches job `id` (or `*`, every job) on this connection. */
  subscribe(client: Client, id: string): void {
    const topic = topics.job(id)
    if (this.hub.membership(client, topic)) return
    // `*` (every job) comes besides the limit.
    if (id !== ALL_JOBS && watchedBy(client) >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
      throw new RoomgateError('job_watch_limit', { max: MAX_SUBSCRIPTIONS_PER_CONNECTION })
    }
    this.hub.join(client, topic)
  }

  unsubscribe(client: Client, id: string): boolean {
    return this.hub.leaveAll(client, topics.job(id))
  }

  progress(job: JobRecord): void {
    this.publish({ k: 'progress', job })
  }

  files(files: FileEvent[]): void {
    if (files.length > 0) this.publish({ k: 'files', files })
  }

  cancel(id: string): void {
    this.publish({ k: 'cancel', id })
  }

  created(): void {
    this.publish({ k: 'new' })
  }

  rate(instance: string, bps: number, at: number): void {
    this.publish({ k: 'rate', instance, bps, at })
  }

  private publish(message: Message): void {
    this.engine.bus.publish(channels.jobs, JSON.stringify(message)).then(
      () => this.outage.ok(),
      (err: unknown) => this.outage.fail(err),
    )
  }

  private readonly receive = (raw: string): void => {
    if (this.closed) return
    const message = JSON.parse(raw) as Message
    switch (message.k) {
      case 'progress': {
        // Publishers race: a worker's last "running" may arrive after the cancel. An ended job stays ended.
        if (FINISHED.has(message.job.status)) this.ended.add(message.job.id)
        else if (this.ended.has(message.job.id)) return
        const watching = this.watching(message.job.id)
        if (watching.length > 0) this.hub.deliverOnce(watching, eventFrame('job.progress', jobView(message.job, this.backend())))
        return
      }
      case 'files':
        for (const file of message.files) {
          const watching = this.watching(file.job_id)
          if (watching.length > 0) this.hub.deliverOnce(watching, eventFrame('job.file', file))
        }
        return
      case 'cancel':
        return this.handlers.cancel(message.id)
      case 'new':
        return this.handlers.created()
      case 'rate':
        return this.handlers.rate(message.instance, message.bps, message.at)
    }
  }

  /** The topics watching job `id`: its own and `*`, those with members here. */
  private watching(id: string): string[] {
    return [topics.job(id), topics.job(ALL_JOBS)].filter((t) => this.hub.has(t))
  }
}

/** Jobs the connection watches, `*` aside. */
function watchedBy(client: Client): number {
  let n = 0
  for (const name of client.topics.keys()) if (name.startsWith(JOB_PREFIX) && name !== topics.job(ALL_JOBS)) n++
  return n
}
