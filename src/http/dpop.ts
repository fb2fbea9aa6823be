// DPoP at the gateway (RFC 9449): reading the one `DPoP` header of a request, checking its proof
// for this request (src/verify/dpop-proof.ts), claiming it single-use by tier
// (src/revocation/proof-replay.ts), and the nonce the server may require. Used at the token
// endpoint (login, refresh: the proof binds the tokens it issues) and at every resource (a
// bound token needs its proof; a `dpop = "required"` route needs a bound token).

import { AuthError, type AuthErrorOptions } from '../lib/errors'
import { countMetric } from '../observability/metrics'
import { splitRequestTarget } from '../proxy/request-target'
import { proofUrl, verifyDpopProof, type DpopProof } from '../verify/dpop-proof'
import type { VerifiedToken } from '../verify/verify-token'
import type { Tier } from '../revocation/tier'
import type { ReplayOutcome } from '../revocation/proof-replay'
import { nowSeconds, type RequestContext } from './request-context'

/** The request's one DPoP proof, null when it has none; several are refused. */
function proofHeader(request: Request, scheme: 'DPoP' | undefined): string | null {
  const value = request.headers.get('dpop')
  if (value === null || value === '') return null
  // Two DPoP headers arrive joined by ", "; a compact JWS contains neither.
  if (/[,\s]/.test(value)) {
    throw new AuthError('invalid_dpop_proof', { detail: 'more than one DPoP header', scheme })
  }
  return value
}

/**
 * The origin a proof must name: public_url, or the alias the request arrived on (one deployment
 * answering on two names, e.g. 127.0.0.1 and localhost in the demo). Any other Host still
 * expects public_url, so a proof made for another server never passes here.
 */
function servedOrigin(url: string, config: RequestContext['config']): string {
  if (config.publicAliases.length === 0) return config.publicUrl
  const origin = new URL(url).origin
  return config.publicAliases.includes(origin) ? origin : config.publicUrl
}

async function checkProof(
  proof: string,
  request: Request,
  rc: RequestContext,
  path: string,
  accessToken: string | null,
  errors: AuthErrorOptions,
): Promise<DpopProof> {
  const { config, services } = rc
  const now = nowSeconds(rc)
  try {
    return await verifyDpopProof(proof, {
      method: request.method,
      url: proofUrl(servedOrigin(request.url, config), path),
      accessToken,
      nowSeconds: now,
      skewSeconds: config.clockSkewSeconds,
      acceptNonce: config.auth.dpop.useNonce
        ? (nonce) => services.dpopNonces.accepts(nonce, now)
        : null,
    })
  } catch (err) {
    if (!(err instanceof AuthError)) throw err
    countMetric('gatehouse_dpop_total', { result: err.reason })
    // A client asked for a nonce gets one to retry with (RFC 9449 §8.1, §9).
    const headers =
      err.reason === 'use_dpop_nonce'
        ? { 'dpop-nonce': await services.dpopNonces.current(now) }
        : undefined
    throw new AuthError(err.reason, { ...err.options, ...errors, headers })
  }
}

/**
 * The proof of a login or refresh (RFC 9449 §5): null without one; verified and claimed when
 * present. Throws the token endpoint's 400 answers (invalid_dpop_proof, use_dpop_nonce).
 */
export async function tokenEndpointProof(
  request: Request,
  rc: RequestContext,
  path: '/auth/login' | '/auth/refresh' | '/auth/login/mfa' | '/auth/passkeys/login',
): Promise<DpopProof | null> {
  const errors = { tokenEndpoint: true } as const
  const header = proofHeader(request, undefined)
  if (header === null) return null
  const proof = await checkProof(header, request, rc, path, null, errors)
  try {
    // A token-endpoint proof is single-use like any other; the refresh token's own rotation is
    // what stops a replayed refresh, so the store failing open here loses nothing else.
    await rc.services.proofReplay.claim(proof, 'standard')
  } catch (err) {
    if (err instanceof AuthError) throw new AuthError(err.reason, { ...err.options, ...errors })
    throw err
  }
  return proof
}

/** A fresh nonce for the answer when the deployment requires them, else none. */
export async function nonceHeaders(rc: RequestContext): Promise<Record<string, string>> {
  if (!rc.config.auth.dpop.useNonce) return {}
  return { 'dpop-nonce': await rc.services.dpopNonces.current(nowSeconds(rc)) }
}

export interface ResourcePolicy {
  /** The route's DPoP requirement (admin and logout endpoints: optional). */
  readonly dpop: 'optional' | 'required'
  readonly tier: Tier
}

/**
 * Enforces sender constraint on a verified access token (RFC 9449 §7): a bound token needs the
 * DPoP scheme and a proof by its key for this very request and token; a DPoP-required route
 * needs a bound token; the DPoP scheme with an unbound token is refused. Returns the replay
 * outcome, or null for a bearer request on a route that allows it (answered without a promise:
 * most requests on the hot path).
 */
export function enforceSenderConstraint(
  request: Request,
  rc: RequestContext,
  presented: { readonly scheme: 'Bearer' | 'DPoP'; readonly token: string },
  verified: VerifiedToken,
  policy: ResourcePolicy,
): ReplayOutcome | null | Promise<ReplayOutcome | null> {
  const dpopChallenge = presented.scheme === 'DPoP' || policy.dpop === 'required'
  const scheme = dpopChallenge || verified.boundKey !== null ? 'DPoP' : 'Bearer'
  if (verified.boundKey === null) {
    if (presented.scheme === 'DPoP') {
      throw new AuthError('dpop_binding_mismatch', {
        detail: 'DPoP scheme with an unbound token',
        scheme,
      })
    }
    if (policy.dpop === 'required') {
      throw new AuthError('dpop_required', { detail: 'bearer token on a DPoP route', scheme })
    }
    return null
  }
  if (presented.scheme !== 'DPoP') {
    throw new AuthError('dpop_required', { detail: 'DPoP-bound token sent as Bearer', scheme })
  }
  const header = proofHeader(request, 'DPoP')
  if (header === null) {
    throw new AuthError('invalid_dpop_proof', { detail: 'DPoP header missing', scheme })
  }
  return checkBoundRequest(request, rc, presented.token, header, verified.boundKey, policy.tier)
}

/** A bound token's proof: by its key, for this request and token, used once at the tier. */
async function checkBoundRequest(
  request: Request,
  rc: RequestContext,
  token: string,
  header: string,
  boundKey: string,
  tier: Tier,
): Promise<ReplayOutcome> {
  const scheme = 'DPoP'
  // The path is taken from the URL only here: a bearer request never pays for it.
  const path = splitRequestTarget(request.url).path
  const proof = await checkProof(header, request, rc, path, token, { scheme })
  if (proof.jkt !== boundKey) {
    countMetric('gatehouse_dpop_total', { result: 'dpop_binding_mismatch' })
    throw new AuthError('dpop_binding_mismatch', { detail: 'proof key is not the token’s', scheme })
  }
  const outcome = await rc.services.proofReplay.claim(proof, tier)
  countMetric('gatehouse_dpop_total', { result: 'ok' })
  return outcome
}
