import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'

/** Readable in logs (host and pid) and unique per start (random suffix). */
export function newInstanceId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`
}
