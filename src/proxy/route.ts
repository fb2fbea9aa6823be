// One proxied route as the proxy sees it: the prefix it claims, the origin behind it, the
// scopes per method class and the forwarding limits. The configuration layer builds these.

import type { Tier } from '../revocation/tier'
import type { RouteCors } from './cors'
import type { RouteRateLimit } from './rate-limit'
import type { AuthLevel } from './step-up'

export type AuthMode = 'none' | 'token'

export interface RouteConfig {
  /** Path prefix without a trailing slash; matches the prefix itself and everything below it. */
  readonly prefix: string
  /** Origin base (scheme://host[:port]) the unchanged path and query are appended to. */
  readonly origin: string
  readonly auth: AuthMode
  /**
   * The `iss` values whose tokens this route accepts (a token of another trusted issuer is
   * refused, 401 issuer_not_allowed). Default: the self issuer, or every issuer without one.
   */
  readonly issuers: ReadonlySet<string>
  /** Scopes required for GET, HEAD and OPTIONS. */
  readonly readScopes: readonly string[]
  /** Scopes required for every other method. */
  readonly writeScopes: readonly string[]
  readonly methods: ReadonlySet<string>
  readonly tier: Tier
  readonly timeoutMs: number
  readonly forwardAuthorization: boolean
  /** required: only DPoP-bound tokens with their proof (RFC 9449); optional: bearer too. */
  readonly dpop: 'optional' | 'required'
  /** Extra attempts for idempotent, body-less requests that fail before any response byte. */
  readonly retries: number
  /** Bulkhead: concurrent forwards to this route's origin per isolate. */
  readonly maxInFlight: number
  readonly originSecretName: string
  /** The resolved per-origin HMAC secret; never logged. */
  readonly originSecret: string
  /** How the origin learns the identity (docs/ASSERTION.md). */
  readonly identity: 'assertion' | 'headers' | 'both'
  readonly assertionSigning: 'hs256' | 'eddsa'
  /** The assertion's `aud`. */
  readonly assertionAudience: string
  readonly bodyBinding: 'required' | 'best_effort' | 'off'
  readonly maxBoundBodyBytes: number
  /** CORS for browser apps on other origins; null: no grants, preflights need a token. */
  readonly cors: RouteCors | null
  readonly rateLimit: RouteRateLimit | null
  /** WebSocket upgrades allowed (relayed; closed on expiry and revocation). */
  readonly websocket: boolean
  /** The acr and auth age the route demands (RFC 9470 step-up), or null. */
  readonly authLevel: AuthLevel | null
}
