/**
 * Schemas shared by the route declarations: the one error body, and
 * `errors(...)`, which turns error codes into OpenAPI responses (one entry per
 * status, listing the codes a client may see there).
 */
import Type, { type TSchema } from 'typebox'
import { ERRORS, type ErrorCode } from '../errors.js'

export const ErrorBody = Type.Object(
  {
    success: Type.Literal(false),
    error: Type.String({ description: 'A message for people' }),
    code: Type.Optional(Type.String({ description: 'A machine code (see the README); roomgate always sends it' })),
  },
  { $id: 'Error', description: 'Every HTTP error: `{"success": false, "error": "...", "code": "..."}`' },
)

const errorRef = { $ref: 'Error#' }

/** The error responses of a route, by status, from the codes it may answer with. */
export function errors(...codes: ErrorCode[]): Record<number, TSchema> {
  const byStatus = new Map<number, string[]>()
  for (const code of codes) {
    const { status } = ERRORS[code]
    byStatus.set(status, [...(byStatus.get(status) ?? []), code])
  }
  const out: Record<number, TSchema> = {}
  for (const [status, list] of byStatus) {
    out[status] = Type.Unsafe({ ...errorRef, description: list.map((c) => `\`${c}\``).join(', ') })
  }
  return out
}

/** A nullable value, as JSON Schema 2020 / OpenAPI 3.1 spells it. */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

/** ISO 8601 time, as every timestamp of the API is written. */
export const Timestamp = Type.String({ format: 'date-time' })

/** A successful answer that carries a free-form JSON value (the shape belongs to the upstream). */
export const AnyJson = Type.Unknown()

/** Security requirements, by scheme name (see openapi/index.ts). */
export const SECURITY = {
  bearer: [{ bearer: [] }],
  apiKey: [{ apiKey: [] }],
  internalToken: [{ internalToken: [] }],
  bearerOrApiKey: [{ bearer: [] }, { apiKey: [] }],
  deviceToken: [{ deviceToken: [] }],
  none: [],
} as const
