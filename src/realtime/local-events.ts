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
import type { TLocalizedValidationError } from 'typebox/error'
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
        const data = message.data
        if (check.Check(data)) return event.handler(client, data, message)
        throw invalid(check.Errors(data)[0])
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

/** `data.room: must match pattern …` (the validator's words), `data.device_id: is required`. */
function invalid(e: TLocalizedValidationError | undefined): RoomgateError {
  if (!e) return new RoomgateError('data_invalid', { field: 'data', problem: 'does not match its schema' })
  const path = ['data', ...e.instancePath.split('/').filter(Boolean)]
  if (e.keyword === 'required') {
    const missing = (e.params as { requiredProperties?: string[] }).requiredProperties?.[0]
    return new RoomgateError('data_missing', { field: [...path, ...(missing === undefined ? [] : [missing])].join('.') })
  }
  return new RoomgateError('data_invalid', { field: path.join('.'), problem: e.message })
}

/** 1 to 256 characters, none of them a control character: a device id, a user id. */
export const PrintableId = Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\u0000-\\u001f\\u007f]*$' })
export const DeviceId = PrintableId

const deviceIdCheck = Compile(DeviceId)

/** The same rule for `?device_id=` as for `identify`. */
export function isValidDeviceId(v: unknown): v is string {
  return deviceIdCheck.Check(v)
}
