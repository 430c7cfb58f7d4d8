/**
 * `{"event":"recover","data":{"since":{"<stream>":{"epoch":"…","offset":N}}}}`
 * → `{"streams":{"<stream>":{"recovered":true,"epoch":"…","offset":<top>}}}`,
 * after the missed events (see recovery.ts).
 */
import Type from 'typebox'
import type { LocalEvents } from '../local-events.js'
import type { Recovery } from './recovery.js'

/** Streams one recover may name: a device, all, and the rooms one connection may be in. */
export const MAX_RECOVER_STREAMS = 64

export const RecoverData = Type.Object({
  since: Type.Optional(
    Type.Record(
      Type.String({ minLength: 1, maxLength: 300 }),
      Type.Object({
        epoch: Type.String({ minLength: 1, maxLength: 64 }),
        offset: Type.Integer({ minimum: 0 }),
      }),
      { maxProperties: MAX_RECOVER_STREAMS, description: 'Stream name → the last position the client has' },
    ),
  ),
})

export function registerRecover(local: LocalEvents, recovery: Recovery): void {
  local.register({
    name: 'recover',
    summary: 'Replay what the connection missed on its streams since the given positions, then answer the positions',
    schema: RecoverData,
    handler: (client, data) => recovery.recover(client, data.since),
  })
}
