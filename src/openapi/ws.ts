/**
 * Seed 001's WebSocket protocol on `/ws`, as JSON Schemas for the OpenAPI
 * document (components.schemas). `identify` may also be done with
 * `?device_id=` on the upgrade request.
 */
import Type from 'typebox'
import { MAX_EVENT_NAME_CHARS } from '../realtime/protocol.js'

const RequestId = Type.Union([Type.String({ maxLength: 256 }), Type.Number()], { description: 'Echoed back on the answer' })
const EventName = Type.String({ minLength: 1, maxLength: MAX_EVENT_NAME_CHARS })

export const WsClientMessage = Type.Object(
  { event: EventName, request_id: Type.Optional(RequestId), data: Type.Optional(Type.Unknown()) },
  {
    $id: 'WsClientMessage',
    description:
      'Client → server. `identify` ({"device_id"}) first, then events routed to services by name; ' +
      'local events: `room.join`, `room.leave`, `job.subscribe`, `metrics.subscribe`, `dashboard.subscribe`.',
  },
)

export const WsResponse = Type.Object(
  { type: Type.Literal('response'), event: EventName, request_id: Type.Optional(RequestId), data: Type.Unknown() },
  { $id: 'WsResponse', description: "Server → client: a service's answer to a client message" },
)

export const WsEvent = Type.Object(
  { type: Type.Literal('event'), event: EventName, data: Type.Unknown() },
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
