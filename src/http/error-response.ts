// The public answer for a failure reason: status and challenge from the reason table, a
// deliberately vague description, JSON body. The wire says which check failed only where the
// client must act on it (expired → refresh); which check failed goes to logs and metrics.

import { AuthError, REASONS, type Reason, type ReasonSpec } from '../lib/errors'

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
  internal: 'Internal error',
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
