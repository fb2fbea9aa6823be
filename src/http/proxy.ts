// The catch-all handler: vet the raw path, match a route, check method, token, scopes and (by
// tier) revocation, then forward with only the headers an origin may see, plus the identity:
// the Gatehouse-Assertion bound to the request and its body (docs/ASSERTION.md), the legacy
// HMAC-signed headers, or both, as the route says. On a `low` route with a warm key cache this
// does no I/O except the origin fetch (and, for a body the route binds, reading it first).

import { AuthError } from '../lib/errors'
import { prepareBody, type PreparedBody } from '../proxy/body-binding'
import { applyGrant, isPreflight, preflightGrant, responseGrant } from '../proxy/cors'
import { enforceRateLimit } from '../proxy/rate-limit'
import { clientNetwork } from '../accounts/login-throttle'
import type { RouteConfig } from '../proxy/route'
import { pathHazard, queryHazard, splitRequestTarget } from '../proxy/request-target'
import { caseFoldConflict, matchRoute, requiredScopes } from '../proxy/route-table'
import type { RevocationOutcome } from '../revocation/revocation-check'
import { effectiveTier } from '../revocation/tier'
import type { VerifiedToken } from '../verify/verify-token'
import { authenticate } from './authenticate'
import { originHeaders } from './origin-headers'
import { isWebSocketUpgrade, relayWebSocket, subprotocolCredentials } from './websocket'
import type { RequestContext } from './request-context'
import { markStage } from '../observability/stage-marks'

/** Handles every request no gateway endpoint claimed. */
export async function proxyRequest(request: Request, rc: RequestContext): Promise<Response> {
  const { record, services } = rc
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
  markStage('route')
  if (route.cors === null) return forwardRouted(request, rc, route, path, search)
  // CORS: preflights are answered here (no token, never forwarded); every other answer, the
  // gateway's own errors included, carries the grant, replacing any the origin set.
  const origin = request.headers.get('origin')
  if (isPreflight(request.method, request.headers)) {
    const grant = preflightGrant(route.cors, origin)
    if (grant === null) {
      throw new AuthError('origin_not_allowed', {
        detail: 'preflight from an origin not in the route’s cors.origins',
        headers: { vary: 'Origin' },
      })
    }
    return new Response(null, { status: 204, headers: grant })
  }
  const grant = responseGrant(route.cors, origin)
  try {
    const response = await forwardRouted(request, rc, route, path, search)
    applyGrant(response.headers, grant)
    return response
  } catch (err) {
    if (!(err instanceof AuthError)) throw err
    const headers = new Headers(err.options.headers)
    applyGrant(headers, grant)
    throw new AuthError(err.reason, { ...err.options, headers: Object.fromEntries(headers) })
  }
}

/** Method, token, scopes, revocation and rate limit on a matched route, then the forward. */
async function forwardRouted(
  received: Request,
  rc: RequestContext,
  route: RouteConfig,
  path: string,
  search: string,
): Promise<Response> {
  const { config, record, services } = rc
  const method = received.method
  if (!route.methods.has(method)) {
    throw new AuthError('method_not_allowed', { headers: { allow: [...route.methods].join(', ') } })
  }
  const upgrade = isWebSocketUpgrade(received.headers)
  if (upgrade && (!route.websocket || method !== 'GET')) {
    throw new AuthError('bad_request', { detail: 'WebSocket upgrades are not allowed here' })
  }
  // A browser's socket offers its credentials as subprotocols: checked like headers.
  const { request, protocols, marker } = upgrade
    ? subprotocolCredentials(received)
    : { request: received, protocols: [], marker: false }
  let verified: VerifiedToken | null = null
  let revocation: RevocationOutcome | null = null
  let tier = route.tier
  if (route.auth === 'token') {
    verified = await authenticate(request, search, requiredScopes(route, method), rc, {
      issuers: route.issuers,
      dpop: route.dpop,
      tier: route.tier,
      authLevel: route.authLevel,
    })
    tier = effectiveTier(route.tier, verified.scopes, config.sensitiveScopes)
    record.tier = tier
    markStage('authenticate')
    revocation = await services.revocation.check(verified, tier)
    record.revocation = revocation
    markStage('revocation')
  }
  const clientIp = request.headers.get('cf-connecting-ip')
  const limited =
    route.rateLimit === null
      ? {}
      : await enforceRateLimit(
          route.prefix,
          route.rateLimit,
          {
            issuer: verified?.issuer.issuer ?? null,
            tenant: verified?.tenant ?? null,
            subject: verified?.subject ?? null,
            sessionId: verified?.sessionId ?? null,
            clientId: verified?.clientId ?? null,
            network: clientIp === null ? null : clientNetwork(clientIp),
          },
          services.rateCounters,
          services.now() / 1000,
        )

  const target = path + search
  if (upgrade) {
    const headersFor = await originHeaders(request, rc, {
      route,
      method,
      target,
      verified,
      revocation,
      body: null,
    })
    const headers = await headersFor(0)
    return relayWebSocket(rc, { route, target, verified, tier, protocols, marker, headers })
  }
  const assertion = route.identity !== 'headers'
  const body: PreparedBody | null = assertion
    ? await prepareBody(request.body, method, request.headers.get('content-length'), {
        binding: route.bodyBinding,
        maxBytes: route.maxBoundBodyBytes,
      })
    : null
  markStage('rate limit + body')
  const headersForAttempt = await originHeaders(request, rc, {
    route,
    method,
    target,
    verified,
    revocation,
    body,
  })
  markStage('request headers')
  const response = await services.forwarder.forward({
    origin: route.origin,
    target,
    method,
    body: body === null ? request.body : body.body,
    timeoutMs: route.timeoutMs,
    retries: route.retries,
    maxInFlight: route.maxInFlight,
    gatewayCookies: config.auth.gatewayCookies,
    route: route.prefix,
    headersForAttempt,
    fetch: (input, init) => fetch(input, init),
  })
  for (const [name, value] of Object.entries(limited)) response.headers.set(name, value)
  return response
}
