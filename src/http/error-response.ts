// The public answer for a failure reason: status and challenge from the reason table, a
// deliberately vague description, JSON body. The wire says which check failed only where the
// client must act on it (expired → refresh); which check failed goes to logs and metrics.

import { AuthError, REASONS, type Reason, type ReasonSpec } from '../lib/errors'
import { DPOP_ALGORITHMS } from '../verify/dpop-proof'

const DESCRIPTIONS: Partial<Record<Reason, string>> = {
  missing_token: 'An access token is required',
  invalid_request: 'The request is malformed',
  token_too_large: 'The access token is too large',
  expired: 'The access token expired',
  key_unavailable: 'The token cannot be verified right now; retry shortly',
  insufficient_scope: 'The access token lacks the required scope',
  tenant_not_allowed: 'The access token lacks the required scope',
  route_not_found: 'Not found',
  bad_path: 'The request path is not allowed',
  method_not_allowed: 'Method not allowed',
  invalid_grant: 'The credentials are invalid',
  bad_request: 'The request is malformed',
  conflict: 'The resource exists already',
  payload_too_large: 'The request body is too large',
  origin_not_allowed: 'This origin is not allowed',
  rate_limited: 'Too many attempts; retry later',
  revocation_unavailable: 'Service temporarily unavailable; retry shortly',
  store_unavailable: 'Service temporarily unavailable; retry shortly',
  origin_unreachable: 'The upstream service is unreachable',
  origin_timeout: 'The upstream service timed out',
  origin_circuit_open: 'The upstream service is unavailable; retry shortly',
  origin_busy: 'The upstream service is busy; retry shortly',
  config_invalid: 'The gateway is misconfigured',
  invalid_dpop_proof: 'The DPoP proof is invalid',
  dpop_replay: 'The DPoP proof is invalid',
  use_dpop_nonce: 'A DPoP nonce is required',
  dpop_required: 'A DPoP-bound access token and proof are required',
  replay_check_unavailable: 'Service temporarily unavailable; retry shortly',
  internal: 'Internal error',
  insufficient_user_authentication: 'A more recent or stronger authentication is required',
  mfa_required: 'A second factor is required',
  mfa_not_enrolled: 'Enrol a second factor first',
}
const INVALID_TOKEN_DESCRIPTION = 'The access token is invalid'

const REALM = 'gatehouse'

/** Builds the public answer for a reason: status, JSON body and headers. */
export function errorResponse(err: AuthError): Response {
  const spec = REASONS[err.reason]
  const description = DESCRIPTIONS[err.reason] ?? INVALID_TOKEN_DESCRIPTION
  const headers = new Headers({
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  })
  // At the token endpoint a bad proof is a 400 error body without a challenge (RFC 9449 §5,
  // RFC 6749 §5.2); at a resource it is a 401 challenge.
  const tokenEndpoint = err.options.tokenEndpoint === true && spec.status === 401
  const status = tokenEndpoint && spec.challenge !== 'none' ? 400 : spec.status
  const challenge = tokenEndpoint ? null : buildChallenge(err, spec.challenge, description)
  if (challenge !== null) headers.set('www-authenticate', challenge)
  if (err.options.retryAfterSeconds !== undefined) {
    headers.set('retry-after', String(Math.max(1, Math.ceil(err.options.retryAfterSeconds))))
  }
  for (const [name, value] of Object.entries(err.options.headers ?? {})) headers.set(name, value)
  const body = JSON.stringify({
    ...err.options.body,
    error: spec.wire,
    error_description: description,
  })
  return new Response(body, { status, headers })
}

function buildChallenge(
  err: AuthError,
  challenge: ReasonSpec['challenge'],
  description: string,
): string | null {
  const scheme =
    err.options.scheme === 'DPoP'
      ? `DPoP realm="${REALM}", algs="${DPOP_ALGORITHMS.join(' ')}"`
      : `Bearer realm="${REALM}"`
  if (challenge === 'none') return err.status === 401 ? scheme : null
  let value = `${scheme}, error="${challenge}", error_description="${description}"`
  if (challenge === 'insufficient_scope' && err.options.scope) {
    value += `, scope="${err.options.scope}"`
  }
  const level = err.options.stepUp
  if (challenge === 'insufficient_user_authentication' && level !== undefined) {
    // RFC 9470 §3: acr_values is space-separated in one quoted string, max_age a bare integer.
    if (level.acrValues !== null) value += `, acr_values="${level.acrValues}"`
    if (level.maxAge !== null) value += `, max_age=${level.maxAge}`
  }
  return value
}
