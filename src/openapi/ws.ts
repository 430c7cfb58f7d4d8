/**
 * Seed 001's WebSocket protocol on `/ws`, as JSON Schemas for the OpenAPI
 * document (components.schemas). `identify` may also be done with
 * `?device_id=` on the upgrade request.
 */
import Type from 'typebox'
import { MAX_EVENT_NAME_CHARS } from '../realtime/protocol.js'

const RequestId = Type.Union([Type.String({ maxLength: 256 }), Type.Number()], { description: 'Echoed back on the answer' })
const EventName = Type.String({ minLength: 1, maxLength: MAX_EVENT_NAME_CHARS })

/** The component of a local event's `data`: `room.join` → `WsRoomJoin`. */
export function eventSchemaId(event: string): string {
  return `Ws${event.split(/[._-]/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('')}`
}

export const WsClientMessage = Type.Object(
  { event: EventName, request_id: Type.Optional(RequestId), data: Type.Optional(Type.Unknown()) },
  {
    $id: 'WsClientMessage',
    description:
      'Client → server. `identify` first (or `?device_id=` on the upgrade), then events routed to services by name. ' +
      'Events roomgate answers itself have their `data` in the components named after them: `identify` → ' +
      '`WsIdentify`, `room.join` → `WsRoomJoin`, `recover` → `WsRecover`, …',
  },
)

export const WsResponse = Type.Object(
  { type: Type.Literal('response'), event: EventName, request_id: Type.Optional(RequestId), data: Type.Unknown() },
  { $id: 'WsResponse', description: "Server → client: a service's answer to a client message" },
)

export const WsEvent = Type.Object(
  {
    type: Type.Literal('event'),
    event: EventName,
    data: Type.Unknown(),
    stream: Type.Optional(Type.String({ description: 'device:<id>, room:<name> or all: the stream of a broadcast (history on)' })),
    offset: Type.Optional(Type.Integer({ minimum: 1, description: "The event's offset in its stream: one more than the last" })),
  },
  { $id: 'WsEvent', description: 'Server → client: a pushed event (POST /internal/broadcast, job and room events)' },
)

export const WsError = Type.Object(
  {
    type: Type.Literal('error'),
    event: Type.Optional(Type.String()),
    request_id: Type.Optional(RequestId),
    error: Type.Object({ code: Type.String(), message: Type.String() }),
  },
  { $id: 'WsError', description: 'Server → client: a refused or failed message; codes as for HTTP errors' },
)

export const WS_SCHEMAS = [WsClientMessage, WsResponse, WsEvent, WsError]
