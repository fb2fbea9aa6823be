// What an origin receives besides the client's forwardable headers: the gateway's forwarding
// facts, the trace, and the identity — the Gatehouse-Assertion bound to this request and its
// body (docs/ASSERTION.md), the legacy HMAC-signed X-Auth-* headers, or both, as the route says.
// Built per attempt: every attempt gets a fresh signature (jti, nonce).

import { AuthError } from '../lib/errors'
import { formatTraceparent } from '../observability/trace'
import {
  ASSERTION_HEADER,
  signAssertion,
  type AssertedRevocation,
  type AssertionKey,
} from '../proxy/assertion'
import type { PreparedBody } from '../proxy/body-binding'
import { forwardableRequestHeaders } from '../proxy/header-rules'
import {
  setIdentityHeaders,
  signIdentityHeaders,
  type ForwardIdentity,
} from '../proxy/identity-signing'
import type { RouteConfig } from '../proxy/route'
import type { RevocationOutcome } from '../revocation/revocation-check'
import type { VerifiedToken } from '../verify/verify-token'
import type { RequestContext } from './request-context'

export interface OriginRequest {
  readonly route: RouteConfig
  readonly method: string
  /** Path and query as sent to the origin. */
  readonly target: string
  readonly verified: VerifiedToken | null
  readonly revocation: RevocationOutcome | null
  /** The prepared body (assertion routes), or null (legacy headers: the body is not read). */
  readonly body: PreparedBody | null
}

/** Builds the headers of one attempt (0-based); each attempt is signed afresh (jti, nonce). */
export type HeadersForAttempt = (attempt: number) => Promise<Headers>

/**
 * The headers of each attempt at an origin. Loads what may fail (the EdDSA assertion key) before
 * returning, so a failure answers 503 before anything is sent; a route that needs no key load
 * (HS256, legacy headers) gets its builder at once, without a promise.
 */
export function originHeaders(
  request: Request,
  rc: RequestContext,
  o: OriginRequest,
): HeadersForAttempt | Promise<HeadersForAttempt> {
  const { config, services } = rc
  const { route, method, target, revocation, body } = o
  const base = forwardableRequestHeaders(request.headers, {
    forwardAuthorization: route.forwardAuthorization,
    gatewayCookies: config.auth.gatewayCookies,
  })
  const clientIp = request.headers.get('cf-connecting-ip')
  if (clientIp !== null) base.set('x-forwarded-for', clientIp)
  // The gateway's own public host, never the client's Host header (which any client can set
  // wherever more than one hostname reaches the Worker).
  base.set('x-forwarded-proto', config.publicProto)
  base.set('x-forwarded-host', config.publicHost)
  base.set('traceparent', formatTraceparent(rc.trace))
  const identity = o.verified === null ? null : forwardIdentity(o.verified)
  // The first attempt signs into the headers built above; only a retry pays for a copy.
  const forAttempt =
    (assertionKey: AssertionKey | null): HeadersForAttempt =>
    async (attempt) => {
      const headers = attempt === 0 ? base : new Headers(base)
      const nowSeconds = services.now() / 1000
      if (route.identity === 'assertion') {
        setIdentityHeaders(headers, { identity, revocation, requestId: rc.requestId })
      } else {
        await signIdentityHeaders(headers, {
          method,
          target,
          secret: route.originSecret,
          identity,
          revocation,
          requestId: rc.requestId,
          nowSeconds,
        })
      }
      if (assertionKey !== null) {
        if (body?.digest) headers.set('content-digest', body.digest)
        const signed = await signAssertion(
          {
            issuer: config.publicUrl,
            audience: route.assertionAudience,
            method,
            url: route.origin + target,
            identity,
            selfIssuer: config.auth.issuer,
            revocation: revocation === null ? null : assertedRevocation(revocation),
            body: body?.state ?? 'none',
            bodyDigest: body?.digest ?? null,
            jti: `${rc.requestId}.${attempt}`,
            nowSeconds,
          },
          assertionKey,
        )
        headers.set(ASSERTION_HEADER, signed)
      }
      return headers
    }
  if (route.identity === 'headers') return forAttempt(null)
  if (route.assertionSigning === 'hs256') {
    return forAttempt({ alg: 'HS256', secret: route.originSecret })
  }
  return eddsaAssertionKey(rc).then(forAttempt)
}

/** The gateway's current origin-assertion key (EdDSA routes), loaded before forwarding. */
async function eddsaAssertionKey(rc: RequestContext): Promise<AssertionKey> {
  const keys = rc.services.assertionKeys
  if (keys === null) throw new Error('EdDSA assertion route without assertion keys') // config bug
  try {
    const signer = await keys.signer.current(rc.services.now())
    return { alg: 'EdDSA', kid: signer.kid, key: signer.key }
  } catch {
    throw new AuthError('key_unavailable', {
      detail: 'origin-assertion key unavailable',
      retryAfterSeconds: 1,
    })
  }
}

function assertedRevocation(outcome: RevocationOutcome): AssertedRevocation {
  if (outcome === 'checked') return 'checked'
  return outcome === 'skipped; tier=low' ? 'skipped' : 'unavailable'
}

/** One identity object per verified token (a cached token is the same object every request). */
const identities = new WeakMap<VerifiedToken, ForwardIdentity>()

function forwardIdentity(token: VerifiedToken): ForwardIdentity {
  let identity = identities.get(token)
  if (identity === undefined) {
    identity = identityOf(token)
    identities.set(token, identity)
  }
  return identity
}

function identityOf(token: VerifiedToken): ForwardIdentity {
  return {
    issuer: token.issuer.issuer,
    subject: token.subject,
    tenant: token.tenant,
    scope: token.scope,
    sessionId: token.sessionId,
    clientId: token.clientId,
    dpopKey: token.boundKey,
  }
}
