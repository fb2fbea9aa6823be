// The closed set of reasons a request can fail, mapped in one table to the HTTP status and the
// RFC 6750 challenge. Code throws AuthError(reason); the app's onError is the one exit that
// turns it into a response (http/error-response.ts), a log line and a metric. Reasons are
// snake_case literals: they are also log fields and metric labels.

export const REASONS = {
  // transport of the credential (RFC 6750 §2.1, §3.1)
  missing_token: { status: 401, wire: 'invalid_token', challenge: 'none' },
  invalid_request: { status: 400, wire: 'invalid_request', challenge: 'invalid_request' },
  token_too_large: { status: 400, wire: 'invalid_request', challenge: 'invalid_request' },
  // token shape and header
  malformed: { status: 401, wire: 'invalid_token', challenge: 'invalid_token' },
  header_not_allowed: { status: 401, wire: 'invalid_token', challenge: 'invalid_token' },
  alg_not_allowed: { status: 401, wire: 'invalid_token', challenge: 'invalid_token' },
  wrong_type: { status: 401, wire: 'invalid_token', challenge: 'invalid_token' },
  // key resolution
  unknown_issuer: { status: 401, wire: 'invalid_token', challenge: 'invalid_token' },
  unknown_kid: { status: 401, wire: 'invalid_token', challenge: 'invalid_token' },
  key_unavailable: { status: 503, wire: 'temporarily_unavailable', challenge: 'none' },
  bad_signature: { status: 401, wire: 'invalid_token', challenge: 'invalid_token' },
  // claims
  expired: { status: 401, wire: 'invalid_token', challenge: 'invalid_token' },
  not_yet_valid: { status: 401, wire: 'invalid_token', challenge: 'invalid_token' },
  lifetime_too_long: { status: 401, wire: 'invalid_token', challenge: 'invalid_token' },
  wrong_audience: { status: 401, wire: 'invalid_token', challenge: 'invalid_token' },
  invalid_claims: { status: 401, wire: 'invalid_token', challenge: 'invalid_token' },
  revoked: { status: 401, wire: 'invalid_token', challenge: 'invalid_token' },
  wrong_tenant: { status: 401, wire: 'invalid_token', challenge: 'invalid_token' },
  // sender constraint (RFC 9449): proofs and the binding of a token to its key
  invalid_dpop_proof: { status: 401, wire: 'invalid_dpop_proof', challenge: 'invalid_dpop_proof' },
  use_dpop_nonce: { status: 401, wire: 'use_dpop_nonce', challenge: 'use_dpop_nonce' },
  dpop_replay: { status: 401, wire: 'invalid_dpop_proof', challenge: 'invalid_dpop_proof' },
  dpop_binding_mismatch: { status: 401, wire: 'invalid_token', challenge: 'invalid_token' },
  dpop_required: { status: 401, wire: 'invalid_token', challenge: 'invalid_token' },
  replay_check_unavailable: { status: 503, wire: 'temporarily_unavailable', challenge: 'none' },
  // policy
  insufficient_scope: { status: 403, wire: 'insufficient_scope', challenge: 'insufficient_scope' },
  tenant_not_allowed: { status: 403, wire: 'insufficient_scope', challenge: 'insufficient_scope' },
  // step-up (RFC 9470): the token's acr or auth_time does not meet the route's level
  insufficient_user_authentication: {
    status: 401,
    wire: 'insufficient_user_authentication',
    challenge: 'insufficient_user_authentication',
  },
  issuer_not_allowed: { status: 401, wire: 'invalid_token', challenge: 'invalid_token' },
  route_not_found: { status: 404, wire: 'not_found', challenge: 'none' },
  bad_path: { status: 400, wire: 'invalid_request', challenge: 'none' },
  method_not_allowed: { status: 405, wire: 'method_not_allowed', challenge: 'none' },
  // auth server (OAuth 2.0 error codes, RFC 6749 §5.2)
  invalid_grant: { status: 401, wire: 'invalid_grant', challenge: 'none' },
  // the password was right and a second factor is enrolled: answered with an mfa_token
  mfa_required: { status: 403, wire: 'mfa_required', challenge: 'none' },
  // a step-up asked of an account with no second factor: enrol one first
  mfa_not_enrolled: { status: 403, wire: 'mfa_enrollment_required', challenge: 'none' },
  bad_request: { status: 400, wire: 'invalid_request', challenge: 'none' },
  conflict: { status: 409, wire: 'conflict', challenge: 'none' },
  payload_too_large: { status: 413, wire: 'invalid_request', challenge: 'none' },
  origin_not_allowed: { status: 403, wire: 'access_denied', challenge: 'none' },
  rate_limited: { status: 429, wire: 'slow_down', challenge: 'none' },
  // dependencies and the proxy's own failures (an origin's answers pass through unchanged)
  revocation_unavailable: { status: 503, wire: 'temporarily_unavailable', challenge: 'none' },
  store_unavailable: { status: 503, wire: 'temporarily_unavailable', challenge: 'none' },
  origin_unreachable: { status: 502, wire: 'bad_gateway', challenge: 'none' },
  origin_timeout: { status: 504, wire: 'gateway_timeout', challenge: 'none' },
  origin_circuit_open: { status: 503, wire: 'temporarily_unavailable', challenge: 'none' },
  origin_busy: { status: 503, wire: 'temporarily_unavailable', challenge: 'none' },
  config_invalid: { status: 500, wire: 'server_error', challenge: 'none' },
  internal: { status: 500, wire: 'server_error', challenge: 'none' },
} as const satisfies Record<string, ReasonSpec>

export interface ReasonSpec {
  status: number
  wire: string
  /** RFC 6750 §3 `error` attribute; 'none' = no WWW-Authenticate header (or a bare one on 401). */
  challenge:
    | 'none'
    | 'invalid_request'
    | 'invalid_token'
    | 'insufficient_scope'
    | 'invalid_dpop_proof'
    | 'use_dpop_nonce'
    | 'insufficient_user_authentication'
}

export type Reason = keyof typeof REASONS

export interface AuthErrorOptions {
  /** Internal detail for logs only; never contains token bytes, passwords or secrets. */
  detail?: string
  /** Seconds for Retry-After on 429 and 503 answers. */
  retryAfterSeconds?: number
  /** Scopes to name in the insufficient_scope challenge (RFC 6750 §3). */
  scope?: string
  /** Extra response headers (for example Allow on 405). */
  headers?: Record<string, string>
  /**
   * The authentication scheme the challenge names: DPoP when the request used it or the route
   * requires it (RFC 9449 §7.1), else Bearer.
   */
  scheme?: 'Bearer' | 'DPoP'
  /** A token-endpoint answer (RFC 6749 §5.2: 400 for a bad proof, no challenge header). */
  tokenEndpoint?: boolean
  /** The level an insufficient_user_authentication challenge names (RFC 9470 §3). */
  stepUp?: { readonly acrValues: string | null; readonly maxAge: number | null }
  /** Members added to the JSON error body (the mfa_token of an mfa_required answer). */
  body?: Readonly<Record<string, unknown>>
}

/** The one exception type for expected failures; anything else is an internal error (500). */
export class AuthError extends Error {
  readonly status: number

  constructor(
    readonly reason: Reason,
    readonly options: AuthErrorOptions = {},
  ) {
    super(options.detail ? `${reason}: ${options.detail}` : reason)
    this.name = 'AuthError'
    this.status = REASONS[reason].status
  }
}
