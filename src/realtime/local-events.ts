/**
 * Events roomgate answers itself instead of routing to a service (`identify`,
 * `recover`, room presence, job, metrics and dashboard subscriptions). Each is
 * registered once with the TypeBox schema of its `data`: the payload is checked
 * by the compiled schema before the handler runs (a bad one is `bad_request`
 * naming the field), the handler gets it typed, and the same schemas document
 * the events in the OpenAPI document. Unknown fields in `data` are allowed.
 *
 *     local.register({
 *       name: 'room.leave',
 *       summary: 'Leave a room',
 *       schema: Type.Object({ room: RoomId, pool: Type.Optional(PoolName) }),
 *       handler: (client, data) => presence.leave(client, data.pool, data.room),
 *     })
 */
import Type, { type Static, type TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { RoomgateError } from '../errors.js'
import type { Client } from './client.js'
import type { Inbound } from './protocol.js'

export interface LocalEvent<S extends TSchema> {
  name: string
  /** One line for the OpenAPI document. */
  summary: string
  schema: S
  /** False only for events a connection may send before it identifies (default true). */
  requiresIdentity?: boolean
  handler: (client: Client, data: Static<S>, message: Inbound) => unknown
}

export interface Registered {
  name: string
  summary: string
  schema: TSchema
  requiresIdentity: boolean
  /** Checks the payload, then runs the handler; throws `bad_request` for a bad payload. */
  run(client: Client, message: Inbound): unknown
}

interface ValidationError {
  instancePath: string
  message: string
  keyword: string
  params: Record<string, unknown>
}

export class LocalEvents {
  private readonly events = new Map<string, Registered>()

  register<S extends TSchema>(event: LocalEvent<S>): void {
    if (this.events.has(event.name)) throw new Error(`local event ${event.name} registered twice`)
    const check = Compile(event.schema)
    this.events.set(event.name, {
      name: event.name,
      summary: event.summary,
      schema: event.schema,
      requiresIdentity: event.requiresIdentity ?? true,
      run(client, message) {
        if (!check.Check(message.data)) {
          const [first] = check.Errors(message.data) as Iterable<ValidationError>
          throw RoomgateError.withText('bad_request', first ? describe(first) : 'data: not valid')
        }
        return event.handler(client, message.data as Static<S>, message)
      },
    })
  }

  get(name: string): Registered | undefined {
    return this.events.get(name)
  }

  /** Every registered event, by name (for the OpenAPI document). */
  list(): Registered[] {
    return [...this.events.values()].sort((a, b) => a.name.localeCompare(b.name))
  }
}

/** `data.room: must match pattern …`, `data.device_id: is required`. */
function describe(e: ValidationError): string {
  const path = ['data', ...e.instancePath.split('/').filter(Boolean)].join('.')
  if (e.keyword === 'required') {
    const missing = (e.params.requiredProperties as string[] | undefined)?.[0]
    return `${path}${missing === undefined ? '' : `.${missing}`}: is required`
  }
  return `${path}: ${e.message}`
}

/** A device id: 1 to 256 characters, none of them a control character. */
export const DeviceId = Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\u0000-\\u001f\\u007f]*$' })

/** 1 to 256 characters, none of them a control character. */
export function isValidDeviceId(v: unknown): v is string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 256) return false
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return false
  }
  return true
}
