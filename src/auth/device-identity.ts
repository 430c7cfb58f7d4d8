/**
 * What a verified device token gives the rest of roomgate (issue 13). The
 * verifier itself (keys, JWKS, jose) is in device-tokens.ts; `/ws` and the
 * proxy depend only on this.
 */

export interface VerifiedDevice {
  /** The `auth.devices.deviceClaim` claim (a string of 1–256 printable characters). */
  deviceId: string
  /** Every claim of the token, as verified. */
  claims: Readonly<Record<string, unknown>>
  /** When the token expires (`exp`, ms since the epoch; the leeway not included). */
  expiresAt: number
}

export interface DeviceVerifier {
  /** Whether tokens can be checked at all: some key source is configured. */
  readonly enabled: boolean
  /** `auth.devices.required`: only a verified token gives an identity. */
  readonly required: boolean
  /** The leeway allowed on `exp` and `nbf`, ms. */
  readonly leewayMs: number
  /**
   * The verified device, or a rejection with a `RoomgateError` whose code is
   * `unauthorized` (message `token_invalid`, or `token_expired`); never any
   * other error, never a hang (JWKS fetches have a timeout).
   */
  verify(token: string): Promise<VerifiedDevice>
  start(): Promise<void>
  close(): void
}
