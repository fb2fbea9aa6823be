// The bridge from a request to a VerifiedToken: extracts the bearer token, verifies it with the
// isolate's verifier, enforces the scopes the caller asks for, and records iss/sub/jti/sid/kid
// for the request's log line.

import { AuthError } from '../lib/errors'
import { extractBearerToken } from '../verify/bearer'
import type { VerifiedToken } from '../verify/verify-token'
import type { RequestContext, RequestRecord } from './request-context'

/**
 * Verifies the request's bearer token and that it carries every scope in `required`.
 * Throws AuthError (missing_token, invalid_request, any verification reason, insufficient_scope).
 */
export async function authenticate(
  request: Request,
  search: string,
  required: readonly string[],
  rc: RequestContext,
): Promise<VerifiedToken> {
  const token = extractBearerToken(request.headers.get('authorization'), search)
  const verified = await verifyToken(token, rc)
  for (const scope of required) {
    if (!verified.scopes.includes(scope)) {
      throw new AuthError('insufficient_scope', { scope: required.join(' ') })
    }
  }
  return verified
}

/** Verifies a token string with the isolate's verifier and records who it names; throws AuthError. */
export async function verifyToken(token: string, rc: RequestContext): Promise<VerifiedToken> {
  return recordVerified(rc.record, await rc.services.verifier.verify(token, rc.waitUntil))
}

/** Records a token the request acted on (introspected, explained, revoked): not the caller. */
export function recordTarget(record: RequestRecord, target: VerifiedToken): VerifiedToken {
  record.targetSubject = target.subject
  record.targetSid = target.sessionId
  record.targetJti = target.tokenId
  return target
}

function recordVerified(record: RequestRecord, verified: VerifiedToken): VerifiedToken {
  record.tenant = verified.tenant
  record.subject = verified.subject
  record.issuer = verified.issuer.issuer
  record.kid = verified.kid
  record.jti = verified.tokenId
  record.sid = verified.sessionId
  return verified
}
