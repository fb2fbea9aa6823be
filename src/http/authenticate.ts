// The bridge from a request to a VerifiedToken: extracts the access token (Bearer or DPoP),
// verifies it with the isolate's verifier, checks that its issuer is one the route accepts,
// enforces its sender constraint (a DPoP-bound token needs its proof; a DPoP-required route
// needs a bound token), then the scopes the caller asks for, and records iss/sub/jti/sid/kid for
// the request's log line.

import { AuthError } from '../lib/errors'
import { countMetric } from '../observability/metrics'
import { emitSecurityEvent } from '../observability/security-events'
import { assertAuthLevel, combineLevels, type AuthLevel } from '../proxy/step-up'
import { effectiveTier, type Tier } from '../revocation/tier'
import { extractAccessToken } from '../verify/bearer'
import type { VerifiedToken } from '../verify/verify-token'
import { enforceSenderConstraint } from './dpop'
import { nowSeconds, type RequestContext, type RequestRecord } from './request-context'

export interface AccessPolicy {
  /** The issuers the route accepts; null: any trusted issuer (endpoints check their own). */
  readonly issuers: ReadonlySet<string> | null
  /** The route's DPoP requirement. */
  readonly dpop: 'optional' | 'required'
  /** The route's tier (raised by sensitive scopes) for the proof's single-use check. */
  readonly tier: Tier
  /** The acr and auth age the route demands (RFC 9470), or null. */
  readonly authLevel: AuthLevel | null
}

/** Gateway endpoints (admin, logout): DPoP optional, proofs claimed globally and fail closed. */
const ENDPOINT_POLICY: AccessPolicy = {
  issuers: null,
  dpop: 'optional',
  tier: 'critical',
  authLevel: null,
}

/**
 * Verifies the request's access token, that the policy accepts its issuer, its sender constraint,
 * and that it carries every scope in `required`. Throws AuthError (missing_token,
 * invalid_request, any verification reason, issuer_not_allowed, the DPoP reasons,
 * insufficient_scope).
 */
export async function authenticate(
  request: Request,
  search: string,
  required: readonly string[],
  rc: RequestContext,
  policy: AccessPolicy = ENDPOINT_POLICY,
): Promise<VerifiedToken> {
  const presented = extractAccessToken(request.headers.get('authorization'), search)
  let verified: VerifiedToken
  try {
    verified = await verifyToken(presented.token, rc)
    // Before the proof and the scopes: a token of an issuer the route does not accept is
    // refused whatever it carries (another trusted issuer may mint any scope it likes).
    if (policy.issuers !== null && !policy.issuers.has(verified.issuer.issuer)) {
      throw new AuthError('issuer_not_allowed', { detail: 'the route does not accept this issuer' })
    }
  } catch (err) {
    // A DPoP client is answered with a DPoP challenge (RFC 9449 §7.1), whatever failed.
    if (err instanceof AuthError && (presented.scheme === 'DPoP' || policy.dpop === 'required')) {
      throw new AuthError(err.reason, { ...err.options, scheme: 'DPoP' })
    }
    throw err
  }
  const tier = effectiveTier(policy.tier, verified.scopes, rc.config.sensitiveScopes)
  rc.record.dpop = await enforceSenderConstraint(request, rc, presented, verified, {
    dpop: policy.dpop,
    tier,
  })
  for (const scope of required) {
    if (!verified.scopes.includes(scope)) {
      throw new AuthError('insufficient_scope', {
        scope: required.join(' '),
        ...(verified.boundKey !== null ? { scheme: 'DPoP' as const } : {}),
      })
    }
  }
  assertAuthenticationLevel(verified, required, policy.authLevel, rc)
  return verified
}

/**
 * Step-up at the edge (RFC 9470): the level the route demands and the levels of the scopes it
 * requires (config step_up_scopes), all met, or 401 insufficient_user_authentication naming them.
 */
export function assertAuthenticationLevel(
  verified: VerifiedToken,
  scopes: readonly string[],
  routeLevel: AuthLevel | null,
  rc: RequestContext,
): void {
  // Most requests demand no level: no arrays are built for them.
  const stepUpScopes = rc.config.stepUpScopes
  if (routeLevel === null && !scopes.some((s) => Object.hasOwn(stepUpScopes, s))) return
  const level = combineLevels([routeLevel, ...scopes.map((s) => stepUpScopes[s])])
  if (level === null) return
  try {
    assertAuthLevel(verified, level, nowSeconds(rc), verified.boundKey === null ? 'Bearer' : 'DPoP')
  } catch (err) {
    countMetric('gatehouse_step_up_total', { result: 'required' })
    emitSecurityEvent(rc.events, {
      type: 'step_up_required',
      tenant: verified.tenant,
      user_id: verified.subject,
      sid: verified.sessionId,
      route: rc.record.route,
      acr: verified.acr,
    })
    throw err
  }
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
