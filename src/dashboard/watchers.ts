/**
 * Who watches the dashboard over /ws, and the credential check that lets them.
 * A connection sends `dashboard.subscribe` with `{"token": …}` (one of
 * `auth.bearerTokens`) or `{"api_key": …}` (one of `auth.apiKeys`), checked
 * in constant time. Until then it gets nothing of the dashboard. A wrong
 * credential is an `unauthorized` error (and ends any earlier subscription)
 * and spends from the client IP's failure budget, shared with every other
 * credential check; once it is spent the connection is closed.
 */
import Type from 'typebox'
import type { FailureBudget } from '../auth/failures.js'
import type { SecretSet } from '../auth/tokens.js'
import { RoomgateError } from '../errors.js'
import type { Client } from '../realtime/client.js'
import { verifyClient } from '../realtime/credentials.js'
import type { Hub } from '../realtime/hub.js'
import type { LocalEvents } from '../realtime/local-events.js'
import { topics } from '../realtime/topics.js'

export interface WatcherOptions {
  hub: Hub
  local: LocalEvents
  bearerTokens: SecretSet
  apiKeys: SecretSet
  failedAuth: FailureBudget
  /** A connection was let in: send it the current snapshot. */
  subscribed: (client: Client) => void
}

export class Watchers {
  constructor(private readonly o: WatcherOptions) {
    o.local.register({
      name: 'dashboard.subscribe',
      summary: 'Watch the dashboard, with one of auth.bearerTokens (token) or auth.apiKeys (api_key)',
      schema: Type.Object({ token: Type.Optional(Type.String()), api_key: Type.Optional(Type.String()) }),
      requiresIdentity: false,
      handler: (client, data) => this.subscribe(client, data.token, data.api_key),
    })
    o.local.register({
      name: 'dashboard.unsubscribe',
      summary: 'Stop watching the dashboard',
      schema: Type.Object({}),
      requiresIdentity: false,
      handler: (client) => ({ subscribed: false, was: o.hub.leaveAll(client, topics.dashboard) }),
    })
  }

  get size(): number {
    return this.o.hub.count(topics.dashboard)
  }

  /** Sends one serialised snapshot to every watcher, framed once for all of them. */
  send(frame: string): void {
    this.o.hub.deliver(topics.dashboard, frame)
  }

  has(client: Client): boolean {
    return this.o.hub.membership(client, topics.dashboard) !== undefined
  }

  private async subscribe(client: Client, token: string | undefined, key: string | undefined): Promise<{ subscribed: true }> {
    if (this.o.bearerTokens.size === 0 && this.o.apiKeys.size === 0) {
      throw new RoomgateError('dashboard_not_configured')
    }
    // Both are checked, whatever the first says: the time taken does not tell which set matched.
    const matches = () => Number(this.o.bearerTokens.has(token)) + Number(this.o.apiKeys.has(key)) > 0
    try {
      await verifyClient(this.o.failedAuth, client, matches, new RoomgateError('dashboard_credentials_wrong'))
    } catch (err) {
      this.o.hub.leaveAll(client, topics.dashboard)
      throw err
    }
    if (!client.open) return { subscribed: true }
    if (!this.has(client)) {
      this.o.hub.join(client, topics.dashboard)
      // After the response: the page sees "subscribed", then the snapshot.
      setImmediate(() => {
        if (this.has(client)) this.o.subscribed(client)
      })
    }
    return { subscribed: true }
  }
}
