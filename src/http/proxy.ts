// The catch-all handler: vet the raw path, match a route, check method, token, scopes and (by
// tier) revocation, then forward with only the headers an origin may see, plus the signed
// identity. On a `low` route with a warm key cache this does no I/O except the origin fetch.

import { AuthError } from '../lib/errors'
import { formatTraceparent } from '../observability/trace'
import { forwardableRequestHeaders } from '../proxy/header-rules'
import { signIdentityHeaders, type ForwardIdentity } from '../proxy/identity-signing'
import { pathHazard, queryHazard, splitRequestTarget } from '../proxy/request-target'
import { caseFoldConflict, matchRoute, requiredScopes } from '../proxy/route-table'
import type { RevocationOutcome } from '../revocation/revocation-check'
import { effectiveTier } from '../revocation/tier'
import type { VerifiedToken } from '../verify/verify-token'
import { authenticate } from './authenticate'
import type { RequestContext } from './request-context'

/** Handles every request no gateway endpoint claimed. */
export async function proxyRequest(request: Request, rc: RequestContext): Promise<Response> {
  const { config, record, services } = rc
  const { path, search } = splitRequestTarget(request.url)
  const hazard = pathHazard(path) ?? queryHazard(search)
  if (hazard !== null) throw new AuthError('bad_path', { detail: hazard })
  const route = matchRoute(services.routes, path)
  if (route === null) throw new AuthError('route_not_found')
  if (caseFoldConflict(services.routes, path, route)) {
    throw new AuthError('bad_path', { detail: 'case-folded path selects another route' })
  }
  record.route = route.prefix
  record.tier = route.tier
  const method = request.method
  if (!route.methods.has(method)) {
    throw new AuthError('method_not_allowed', { headers: { allow: [...route.methods].join(', ') } })
  }
  let verified: VerifiedToken | null = null
  let revocation: RevocationOutcome | null = null
  if (route.auth === 'token') {
    verified = await authenticate(request, search, requiredScopes(route, method), rc, {
      dpop: route.dpop,
      tier: route.tier,
    })
    const tier = effectiveTier(route.tier, verified.scopes, config.sensitiveScopes)
    record.tier = tier
    revocation = await services.revocation.check(verified, tier)
    record.revocation = revocation
  }

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
  const target = path + search
  const identity = verified === null ? null : forwardIdentity(verified)
  return services.forwarder.forward({
    origin: route.origin,
    target,
    method,
    body: request.body,
    timeoutMs: route.timeoutMs,
    retries: route.retries,
    maxInFlight: route.maxInFlight,
    gatewayCookies: config.auth.gatewayCookies,
    route: route.prefix,
    // The first attempt signs into the headers built above; only a retry pays for a copy.
    headersForAttempt: async (attempt) => {
      const headers = attempt === 0 ? base : new Headers(base)
      await signIdentityHeaders(headers, {
        method,
        target,
        secret: route.originSecret,
        identity,
        revocation,
        requestId: rc.requestId,
        nowSeconds: services.now() / 1000,
      })
      return headers
    },
    fetch: (input, init) => fetch(input, init),
  })
}

function forwardIdentity(token: VerifiedToken): ForwardIdentity {
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
