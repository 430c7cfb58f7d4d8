import Type from 'typebox'
import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { RoomgateError } from '../errors.js'
import type { Broadcaster } from './broadcast.js'
import { MAX_EVENT_NAME_CHARS } from './protocol.js'
import { errors, SECURITY } from '../openapi/schemas.js'

export const MAX_BROADCAST_DEVICE_IDS = 10_000
export const MAX_BROADCAST_ROOMS = 1_000

const BroadcastBody = Type.Object(
  {
    event: Type.String({ minLength: 1, maxLength: MAX_EVENT_NAME_CHARS }),
    data: Type.Optional(Type.Unknown()),
    idempotency_key: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    targets: Type.Object(
      {
        device_ids: Type.Optional(
          Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: MAX_BROADCAST_DEVICE_IDS }),
        ),
        rooms: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z0-9_.:@-]{1,128}$' }), { maxItems: MAX_BROADCAST_ROOMS })),
        all: Type.Optional(Type.Boolean()),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
)

const BroadcastReply = Type.Object({
  success: Type.Literal(true),
  delivered: Type.Integer({ description: 'Connections reached, summed over the instances that answered' }),
  instances: Type.Integer({ description: 'Instances the event was published to' }),
  unconfirmed: Type.Integer({ description: 'Instances that did not confirm in broadcast.ackTimeoutMs' }),
})

/** `POST /internal/broadcast` (seed 001): push an event to devices on every instance. */
export function registerBroadcastRoute(app: FastifyInstance, broadcaster: Broadcaster, guard: onRequestHookHandler): void {
  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/internal/broadcast',
    {
      schema: {
        tags: ['realtime'],
        summary: 'Push an event to devices, rooms or everyone, on every instance',
        security: SECURITY.internalToken,
        body: BroadcastBody,
        response: {
          200: BroadcastReply,
          ...errors('bad_request', 'unauthorized', 'forbidden', 'request_timeout', 'payload_too_large', 'unsupported_media_type', 'rate_limited', 'engine_unavailable'),
        },
      },
      onRequest: guard,
    },
    async (request) => {
      const { event, data, targets, idempotency_key: idempotencyKey } = request.body
      if (!targets.all && !targets.device_ids?.length && !targets.rooms?.length) {
        throw new RoomgateError('targets_empty')
      }
      const result = await broadcaster.broadcast({ event, data, targets, idempotencyKey })
      return { success: true as const, ...result }
    },
  )
}
