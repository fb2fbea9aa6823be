// gatehouse/origin: the public contract of origin/index.js (README § How an origin trusts
// Gatehouse; the assertion itself: docs/ASSERTION.md).

import type { MiddlewareHandler } from 'hono'

/** The claim set of a Gatehouse-Assertion (docs/ASSERTION.md § Claims). */
export interface AssertionClaims {
  /** The gateway's public_url. */
  iss: string
  aud: string | string[]
  /** Seconds; exp = iat + 30. */
  iat: number
  exp: number
  /** `<request id>.<attempt>`, single use. */
  jti: string
  htm: string
  /** The URL the gateway called: the route's origin + path and query as sent. */
  htu: string
  body: 'none' | 'bound' | 'unbound'
  /** RFC 9530 Content-Digest value, `sha-256=:<base64>:`, when body is `bound`. */
  body_digest?: string
  /** The caller; absent on routes with auth = "none". */
  sub?: string
  tid?: string
  /** Space-separated scopes. */
  scope?: string
  sid?: string
  client_id?: string
  /** The access token's issuer when it is not the gateway (a third-party IdP). */
  token_iss?: string
  /** The DPoP key the caller proved it holds (RFC 9449). */
  cnf?: { jkt: string }
  rev?: 'checked' | 'skipped' | 'unavailable'
  [claim: string]: unknown
}

/** Why an assertion was refused: a stable code, for logs and metrics (not for the client). */
export type AssertionFailure =
  | 'missing_assertion'
  | 'malformed'
  | 'alg_not_allowed'
  | 'wrong_type'
  | 'unknown_kid'
  | 'jwks_unavailable'
  | 'bad_signature'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'lifetime_too_long'
  | 'wrong_method'
  | 'wrong_host'
  | 'wrong_target'
  | 'body_unexpected'
  | 'body_mismatch'
  | 'body_unbound'
  | 'replayed'

export type AssertionResult =
  | { readonly ok: true; readonly claims: AssertionClaims }
  | { readonly ok: false; readonly reason: AssertionFailure }

/** A WHATWG Headers object or Node's `req.headers` record. */
export type HeaderSource = Headers | Readonly<Record<string, string | string[] | undefined>>

/** The request as the origin received it. */
export interface AssertionRequest {
  method: string
  /** The Host header as received (with port); null or absent: refused as wrong_host. */
  host?: string | null
  /** Path and query exactly as received: Node's `req.url`, never a decoded or rebuilt path. */
  target: string
  headers: HeaderSource
  /** The body's bytes; null or empty when there is none. */
  body?: Uint8Array | null
}

export interface AssertionVerifierOptions {
  /** The gateway's public_url: the assertion's `iss`. */
  issuer: string
  /** This origin's audience: the route's `assertion_audience`, by default its `origin`. */
  audience: string
  /** HS256: the route's origin_secret (its UTF-8 bytes), at least 32 bytes. */
  secret?: string | Uint8Array
  /** EdDSA: `<public_url>/.well-known/origin-assertion-jwks.json`. */
  jwksUrl?: string | URL
  /** Clock difference allowed between gateway and origin, seconds; default 5. */
  maxSkewSeconds?: number
  /**
   * jtis remembered for single use; default 100 000. Size it ≥ peak requests/s × 35: when full
   * the oldest live entries go first, reopening their replay window.
   */
  replayCacheSize?: number
  /** Accept `body: "unbound"` (a body the gateway streamed without a digest); default false. */
  acceptUnboundBody?: boolean
  /** Injectable for tests: the clock in epoch milliseconds, and fetch for the JWKS. */
  now?: () => number
  fetch?: (url: string, init: RequestInit) => Promise<Response>
}

export interface AssertionVerifier {
  /** Checks one request (docs/ASSERTION.md § What an origin checks); never throws for input. */
  verify(request: AssertionRequest): Promise<AssertionResult>
}

export declare const ASSERTION_HEADER: 'gatehouse-assertion'
export declare const ASSERTION_TYPE: 'gatehouse-assertion+jwt'
export declare const ASSERTION_LIFETIME_SECONDS: 30

/** Throws TypeError for options that cannot work (no key or two, a short secret). */
export declare function createAssertionVerifier(
  options: AssertionVerifierOptions,
): AssertionVerifier

/** RFC 9530 Content-Digest value of bytes: `sha-256=:<base64>:`. */
export declare function contentDigest(bytes: Uint8Array): Promise<string>

/** The parts of a Node (or Express) request the adapter reads. */
export interface NodeRequestLike {
  method?: string
  url?: string
  originalUrl?: string
  headers: Readonly<Record<string, string | string[] | undefined>>
}

/** Verifies a Node `http.IncomingMessage` whose body the caller has read. */
export declare function verifyNodeRequest(
  verifier: AssertionVerifier,
  req: NodeRequestLike,
  body: Uint8Array | null,
): Promise<AssertionResult>

/** Reads a Node request body; null when empty; rejects (code `body_too_large`) past maxBytes. */
export declare function readNodeBody(
  req: AsyncIterable<Uint8Array | string>,
  maxBytes?: number,
): Promise<Uint8Array | null>

export interface MiddlewareOptions {
  /** Largest body read to check its digest; default 1 MiB (the gateway's default limit). */
  maxBodyBytes?: number
  /** Told which check failed (the 401 does not say); default: one JSON line on console.warn. */
  onRejected?: (reason: AssertionFailure) => void
}

/**
 * Express middleware: mount before body parsers (or after `express.raw()`). Claims in
 * `res.locals.gatehouse`; 401 otherwise.
 */
export declare function expressAssertion(
  verifier: AssertionVerifier,
  options?: MiddlewareOptions,
): (req: any, res: any, next: (err?: unknown) => void) => void

/** Hono middleware: claims in `c.get('gatehouse')`; 401 otherwise. */
export declare function honoAssertion(
  verifier: AssertionVerifier,
  options?: Pick<MiddlewareOptions, 'onRejected'>,
): MiddlewareHandler<{ Variables: { gatehouse: AssertionClaims } }>

/**
 * The legacy signed X-Auth-* headers (routes with identity = "headers" | "both"): returns a
 * function that checks one request and never throws for its input (README § The legacy signed
 * headers). Built from src/origin/verify-identity.ts by scripts/build-origin.mjs.
 */
export {
  createIdentityVerifier,
  type GatewayIdentity,
  type IdentityFailure,
  type IdentityResult,
  type IdentityVerifierOptions,
  type IncomingRequest,
} from './identity-headers.js'
