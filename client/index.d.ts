// gatehouse/client: the public contract of client/index.js (README § DPoP, § Second factors and
// step-up).

/** Where the DPoP key pair lives; `save` replaces any stored pair. */
export interface KeyStore {
  load(): Promise<CryptoKeyPair | null>
  save(pair: CryptoKeyPair): Promise<void>
  clear(): Promise<void>
}

/** Where a mobile client keeps its refresh token (a platform keychain, say). */
export interface RefreshTokenStorage {
  get(): string | null | Promise<string | null>
  set(token: string): void | Promise<void>
  delete(): void | Promise<void>
}

export interface GatehouseClientOptions {
  /** The gateway's public URL (its `public_url`): proofs name it in `htu`. */
  baseUrl: string | URL
  /** The default tenant for login. */
  tenant?: string
  /**
   * `web` (default): the refresh token stays in the gateway's HttpOnly cookie. `mobile`: it
   * comes in the body and is kept in `storage`; `deviceId` is required.
   */
  client?: 'web' | 'mobile'
  deviceId?: string
  /**
   * `indexeddb` (the default for web clients where IndexedDB exists: the key survives a reload
   * and is shared by the origin's tabs), `memory` (the default elsewhere: the key lives as long
   * as this client), or your own store.
   */
  keyStore?: 'indexeddb' | 'memory' | KeyStore
  /** Mobile clients: where the refresh token lives; default in memory. */
  storage?: RefreshTokenStorage
  /** Refresh this many seconds before the access token expires; default 30. */
  refreshMarginSeconds?: number
  /** Injectable for tests: fetch, and the clock in epoch milliseconds. */
  fetch?: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>
  now?: () => number
  /**
   * The WebSocket class `websocket()` opens sockets with; default `globalThis.WebSocket`. In Node
   * before 22, pass one (the `ws` package's takes the same arguments).
   */
  WebSocket?: new (url: string, protocols?: string | string[]) => WebSocket
  /**
   * The WebAuthn container passkey ceremonies use; default `navigator.credentials`. Passkeys
   * need a secure context whose host is a name (WebAuthn refuses IP-address origins).
   */
  credentials?: CredentialsContainer
}

export interface Session {
  /** `DPoP` when the tokens are bound to this client's key. */
  readonly tokenType: string
  readonly scope: string
  /** When the access token expires, epoch milliseconds by this client's clock. */
  readonly expiresAt: number
  /**
   * What the access token says of the authentication, read without verification (for display,
   * never for a decision): `acr` (`pwd` | `mfa`), `amr` (RFC 8176: `pwd`, `otp`, `hwk`, `swk`,
   * `mfa`) and `auth_time` (epoch seconds by the gateway's clock); null/empty when absent.
   */
  readonly acr: string | null
  readonly amr: readonly string[]
  readonly authTime: number | null
}

/** One answer to a second-factor prompt: a TOTP code, a recovery code, or this device's passkey. */
export type FactorAnswer = { otp: string } | { recoveryCode: string } | { passkey: true }

export interface Factor {
  readonly id: string
  readonly type: 'totp' | 'passkey'
  readonly label: string | null
  /** As the gateway states them (epoch seconds), or null. */
  readonly createdAt: number | string | null
  readonly lastUsedAt: number | string | null
}

export interface FactorList {
  readonly factors: readonly Factor[]
  readonly recoveryCodesRemaining: number
}

/** A pending authenticator-app factor: show the secret (or the URI as a QR code), then confirm. */
export interface TotpEnrollment {
  readonly factorId: string
  /** The shared secret, base32 (RFC 4648) — show it to the user once, never store it. */
  readonly secret: string
  /** `otpauth://totp/…` with the secret, for an authenticator app. */
  readonly otpauthUri: string
}

export interface FactorAdded {
  readonly factorId: string
  /** The recovery codes, only with the user's first factor: show them once. Null otherwise. */
  readonly recoveryCodes: readonly string[] | null
}

/**
 * What changed: `login`, `refresh` (this client rotated), `tab` (another tab's token taken
 * over), `ended` (the gateway refused the session, or another tab ended it), `logout`.
 */
export type ChangeCause = 'login' | 'refresh' | 'step-up' | 'tab' | 'ended' | 'logout'

export interface RefreshOutcome {
  /** Whether the client now holds a fresh access token. */
  readonly ok: boolean
  /**
   * The token endpoint's HTTP status; 0 when it could not be reached; null when no request was
   * sent (another tab's new token was taken, or there is no session to refresh).
   */
  readonly status: number | null
  /** Whether this client rotated the session (one rotation serves all tabs). */
  readonly rotated: boolean
}

export interface GatehouseClient {
  /**
   * Logs in with a new DPoP key; resolves to the session. Rejects with MfaRequiredError when the
   * user has a second factor (403 `mfa_required`: finish with `completeMfa` on this client, which
   * keeps the pending login's token and key in memory), else with GatehouseError
   * (`invalid_grant`, `rate_limited`, `network_error`…).
   */
  login(credentials: { tenant?: string; username: string; password: string }): Promise<Session>
  /**
   * Finishes the pending password login with a second factor (`{ passkey: true }` runs
   * navigator.credentials.get with the options the login offered); resolves to the session.
   * Rejects with GatehouseError `invalid_grant` for a wrong answer (the login stays pending for
   * another try until the gateway gives up on it) or an expired one, `rate_limited` (429); with
   * the browser's DOMException when the user declines the passkey; TypeError when no login is
   * pending or it offers no passkey.
   */
  completeMfa(answer: FactorAnswer): Promise<Session>
  /**
   * Logs in with a discoverable passkey alone (user verification required) and a new DPoP key;
   * resolves to the session. Rejects with GatehouseError (`invalid_grant`…) or the browser's
   * DOMException (`NotAllowedError`: declined, no passkey for this site).
   */
  loginWithPasskey(input?: { tenant?: string }): Promise<Session>
  /**
   * Proves a second factor again for the current session (RFC 9470 step-up): the session gets a
   * new access token with a new `auth_time` and `acr` `mfa` (refreshes keep them). Resolves to
   * the session; rejects with GatehouseError (`invalid_grant`…), DOMException, or TypeError
   * (a passkey was asked for and the user has none).
   */
  stepUp(answer: FactorAnswer): Promise<Session>
  /** The user's second factors. Rejects with GatehouseError. */
  listFactors(): Promise<FactorList>
  /**
   * Starts an authenticator-app factor (pending until `confirmTotp`). Rejects with
   * StepUpRequiredError when the user already has a factor and the session's MFA is not fresh,
   * else GatehouseError.
   */
  enrollTotp(options?: { label?: string }): Promise<TotpEnrollment>
  /** Activates a pending TOTP factor with a current code. Rejects with GatehouseError (`invalid_grant`). */
  confirmTotp(factorId: string, code: string): Promise<FactorAdded>
  /**
   * Registers a passkey on this device (navigator.credentials.create). Rejects with
   * StepUpRequiredError (as enrollTotp), GatehouseError, or the browser's DOMException.
   */
  registerPasskey(options?: { label?: string }): Promise<FactorAdded>
  /** Removes a factor. Needs a fresh MFA: rejects with StepUpRequiredError, or GatehouseError. */
  removeFactor(id: string): Promise<void>
  /** Replaces the recovery codes; show them once. Rejects like removeFactor. */
  newRecoveryCodes(): Promise<readonly string[]>
  /**
   * fetch() for the gateway: adds `Authorization: DPoP <token>` and a proof to requests to the
   * gateway's origin (others go out untouched), refreshes first when the token is about to
   * expire, and retries once after a refresh when the answer is 401 `invalid_token`, once after
   * a nonce challenge. Relative URLs are resolved against `baseUrl`. Answers are returned as
   * they are (a 401 too); rejects only as fetch does.
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>
  /**
   * `fetch()` that rejects with StepUpRequiredError when the gateway answers 401
   * `insufficient_user_authentication` (the route wants `acr_values`/`max_age` the session does
   * not meet; the origin was not reached): call `stepUp`, then send the request again. Every
   * other answer is returned as `fetch()` returns it.
   */
  request(input: RequestInfo | URL, init?: RequestInit): Promise<Response>
  /**
   * Opens a WebSocket to the gateway (`ws:`/`wss:`, or `http:`/`https:` turned into those;
   * relative URLs against `baseUrl`), refreshing first when the token is about to expire, with
   * the access token offered as the subprotocol `gatehouse.bearer.<token>` and, for a
   * DPoP-bound session, a fresh proof as `gatehouse.dpop.<proof>` (`htm` GET, `htu` the URL's
   * http(s) form without query). The gateway takes both out of the offer; the origin sees and
   * picks from `protocols` only — offer at least one it accepts, since a browser fails a
   * handshake whose answer picks none of the subprotocols it offered. The credential is checked
   * at the handshake; the gateway closes the socket with 4401 when the token expires (`token
   * expired`) and, on standard and critical routes, after a revocation (`revoked`). A socket does
   * not renew itself: open a new one. Sockets to other origins get no credential. Throws TypeError when there is no WebSocket class or `protocols` names a
   * `gatehouse.*` one.
   */
  websocket(url: string | URL, protocols?: string | string[]): Promise<WebSocket>
  /**
   * Ends the session at the gateway (by the access token, else by the refresh token) and
   * forgets the tokens and the key. Rejects with GatehouseError when the gateway refuses, and
   * with fetch's error when it cannot be reached; the client then keeps its state.
   */
  logout(): Promise<void>
  /** Gets an access token for an existing session (after a reload); true when it has one. */
  restore(): Promise<boolean>
  /** Rotates now, unless another tab rotated since this client's token was issued. */
  refresh(): Promise<RefreshOutcome>
  /** The access token in memory, or null. */
  accessToken(): string | null
  session(): Session | null
  /** The RFC 7638 thumbprint of the key tokens are bound to (`cnf.jkt`), or null. */
  keyThumbprint(): Promise<string | null>
  /** Calls `listener` on every change of the session; returns the unsubscribe function. */
  onChange(listener: (session: Session | null, cause: ChangeCause) => void): () => void
  /** Closes the cross-tab channel. */
  close(): void
}

export declare class GatehouseError extends Error {
  constructor(status: number, code: string)
  /** HTTP status; 0 when the gateway could not be reached. */
  readonly status: number
  /** The answer's `error`, or `network_error`. */
  readonly code: string
}

/** A password login that needs a second factor (403 `mfa_required`). */
export declare class MfaRequiredError extends GatehouseError {
  constructor(factors: readonly string[], expiresAt: number)
  readonly status: 403
  readonly code: 'mfa_required'
  /** What the user may answer with: `totp`, `passkey`, `recovery_code`. */
  readonly factors: readonly string[]
  /** When the pending login expires, epoch milliseconds by this client's clock. */
  readonly expiresAt: number
}

/** A 401 `insufficient_user_authentication` (RFC 9470): step up, then retry. */
export declare class StepUpRequiredError extends GatehouseError {
  constructor(acrValues: readonly string[], maxAge: number | null)
  readonly status: 401
  readonly code: 'insufficient_user_authentication'
  /** The challenge's `acr_values` (e.g. `['mfa']`); empty when it names none. */
  readonly acrValues: readonly string[]
  /** The challenge's `max_age` in seconds, or null. */
  readonly maxAge: number | null
}

/**
 * The step-up challenge of a gateway answer (a 401 whose WWW-Authenticate, or else the parsed
 * `body`, says `insufficient_user_authentication`), or null: for callers of `fetch()`.
 */
export declare function stepUpChallenge(res: Response, body?: unknown): StepUpRequiredError | null

export declare function createGatehouseClient(options: GatehouseClientOptions): GatehouseClient
