// gatehouse/client: the public contract of client/index.js (README § DPoP).

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
}

export interface Session {
  /** `DPoP` when the tokens are bound to this client's key. */
  readonly tokenType: string
  readonly scope: string
  /** When the access token expires, epoch milliseconds by this client's clock. */
  readonly expiresAt: number
}

/**
 * What changed: `login`, `refresh` (this client rotated), `tab` (another tab's token taken
 * over), `ended` (the gateway refused the session, or another tab ended it), `logout`.
 */
export type ChangeCause = 'login' | 'refresh' | 'tab' | 'ended' | 'logout'

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
   * Logs in with a new DPoP key; resolves to the session. Rejects with GatehouseError
   * (`invalid_grant`, `rate_limited`, `network_error`…).
   */
  login(credentials: { tenant?: string; username: string; password: string }): Promise<Session>
  /**
   * fetch() for the gateway: adds `Authorization: DPoP <token>` and a proof to requests to the
   * gateway's origin (others go out untouched), refreshes first when the token is about to
   * expire, and retries once after a refresh when the answer is 401 `invalid_token`, once after
   * a nonce challenge. Relative URLs are resolved against `baseUrl`. Answers are returned as
   * they are (a 401 too); rejects only as fetch does.
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>
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

export declare function createGatehouseClient(options: GatehouseClientOptions): GatehouseClient
