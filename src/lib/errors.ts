// The closed set of reasons a request can fail, mapped in one table to the HTTP status, the
// RFC 6750 challenge and a deliberately vague public description. Code throws AuthError(reason);
// app.onError is the one exit that turns it into a response, a log line and a metric. The wire
// says which check failed only where the client must act on it (expired → refresh).

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
  // policy
  insufficient_scope: { status: 403, wire: 'insufficient_scope', challenge: 'insufficient_scope' },
  route_not_found: { status: 404, wire: 'not_found', challenge: 'none' },
  bad_path: { status: 400, wire: 'invalid_request', challenge: 'none' },
  method_not_allowed: { status: 405, wire: 'method_not_allowed', challenge: 'none' },
  // auth server (OAuth 2.0 error codes, RFC 6749 §5.2)
  invalid_grant: { status: 401, wire: 'invalid_grant', challenge: 'none' },
  bad_request: { status: 400, wire: 'invalid_request', challenge: 'none' },
  payload_too_large: { status: 413, wire: 'invalid_request', challenge: 'none' },
  origin_not_allowed: { status: 403, wire: 'access_denied', challenge: 'none' },
  rate_limited: { status: 429, wire: 'slow_down', challenge: 'none' },
  // dependencies and the proxy's own failures (an origin's answers pass through unchanged)
  revocation_unavailable: { status: 503, wire: 'temporarily_unavailable', challenge: 'none' },
  store_unavailable: { status: 503, wire: 'temporarily_unavailable', challenge: 'none' },
  origin_unreachable: { status: 502, wire: 'bad_gateway', challenge: 'none' },
  origin_timeout: { status: 504, wire: 'gateway_timeout', challenge: 'none' },
  origin_circuit_open: { status: 503, wire: 'temporarily_unavailable', challenge: 'none' },
  config_invalid: { status: 500, wire: 'server_error', challenge: 'none' },
  internal: { status: 500, wire: 'server_error', challenge: 'none' },
} as const satisfies Record<string, ReasonSpec>

interface ReasonSpec {
  status: number
  wire: string
  /** RFC 6750 §3 `error` attribute; 'none' = no WWW-Authenticate header (or a bare one on 401). */
  challenge: 'none' | 'invalid_request' | 'invalid_token' | 'insufficient_scope'
}

export type Reason = keyof typeof REASONS

const DESCRIPTIONS: Partial<Record<Reason, string>> = {
  missing_token: 'An access token is required',
  invalid_request: 'The request is malformed',
  token_too_large: 'The access token is too large',
  expired: 'The access token expired',
  key_unavailable: 'The token cannot be verified right now; retry shortly',
  insufficient_scope: 'The access token lacks the required scope',
  route_not_found: 'Not found',
  bad_path: 'The request path is not allowed',
  method_not_allowed: 'Method not allowed',
  invalid_grant: 'The credentials are invalid',
  bad_request: 'The request is malformed',
  payload_too_large: 'The request body is too large',
  origin_not_allowed: 'This origin is not allowed',
  rate_limited: 'Too many attempts; retry later',
  revocation_unavailable: 'Service temporarily unavailable; retry shortly',
  store_unavailable: 'Service temporarily unavailable; retry shortly',
  origin_unreachable: 'The upstream service is unreachable',
  origin_timeout: 'The upstream service timed out',
  origin_circuit_open: 'The upstream service is unavailable; retry shortly',
  config_invalid: 'The gateway is misconfigured',
  internal: 'Internal error',
}
const INVALID_TOKEN_DESCRIPTION = 'The access token is invalid'

export interface AuthErrorOptions {
  /** Internal detail for logs only; never contains token bytes, passwords or secrets. */
  detail?: string
  /** Seconds for Retry-After on 429 and 503 answers. */
  retryAfterSeconds?: number
  /** Scopes to name in the insufficient_scope challenge (RFC 6750 §3). */
  scope?: string
  /** Extra response headers (for example Allow on 405). */
  headers?: Record<string, string>
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

const REALM = 'gatehouse'

/** Builds the public answer for a reason: status, JSON body and headers. */
export function errorResponse(err: AuthError): Response {
  const spec = REASONS[err.reason]
  const description = DESCRIPTIONS[err.reason] ?? INVALID_TOKEN_DESCRIPTION
  const headers = new Headers({
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  })
  const challenge = buildChallenge(err, spec.challenge, description)
  if (challenge !== null) headers.set('www-authenticate', challenge)
  if (err.options.retryAfterSeconds !== undefined) {
    headers.set('retry-after', String(Math.max(1, Math.ceil(err.options.retryAfterSeconds))))
  }
  for (const [name, value] of Object.entries(err.options.headers ?? {})) headers.set(name, value)
  const body = JSON.stringify({ error: spec.wire, error_description: description })
  return new Response(body, { status: spec.status, headers })
}

function buildChallenge(
  err: AuthError,
  challenge: ReasonSpec['challenge'],
  description: string,
): string | null {
  if (challenge === 'none') return err.status === 401 ? `Bearer realm="${REALM}"` : null
  let value = `Bearer realm="${REALM}", error="${challenge}", error_description="${description}"`
  if (challenge === 'insufficient_scope' && err.options.scope) {
    value += `, scope="${err.options.scope}"`
  }
  return value
}
