// The catch-all handler: vet the raw path, match a route, check method, token and scopes, then
// forward with only the headers an origin may see, plus the signed identity. On a `low` route
// with a warm key cache this does no I/O except the origin fetch.

import type { RequestScope } from '../request-middleware'
import { AuthError } from '../errors'
import { formatTraceparent } from '../observability/trace'
import { authenticate } from '../verify/authenticate'
import type { VerifiedToken } from '../verify/verify-token'
import { forwardToOrigin } from './forward'
import { forwardableRequestHeaders } from './header-rules'
import { signIdentityHeaders, type ForwardIdentity } from './identity-signing'
import { pathHazard, queryHazard, splitRequestTarget } from './request-target'
import { matchRoute, requiredScopes, routeTableFor } from './route-table'

/** Handles every request no gateway endpoint claimed. */
export async function proxyRequest(request: Request, scope: RequestScope): Promise<Response> {
  const { config, record } = scope
  const { path, search } = splitRequestTarget(request.url)
  const hazard = pathHazard(path) ?? queryHazard(search)
  if (hazard !== null) throw new AuthError('bad_path', { detail: hazard })
  const route = matchRoute(routeTableFor(config.routes), path)
  if (route === null) throw new AuthError('route_not_found')
  record.route = route.prefix
  record.tier = route.tier
  const method = request.method
  if (!route.methods.has(method)) {
    throw new AuthError('method_not_allowed', { headers: { allow: [...route.methods].join(', ') } })
  }
  let verified: VerifiedToken | null = null
  if (route.auth === 'token') {
    verified = await authenticate(request, search, requiredScopes(route, method), scope)
  }
  const headers = forwardableRequestHeaders(request.headers, {
    forwardAuthorization: route.forwardAuthorization,
    gatewayCookies: [config.auth.cookieName],
  })
  const url = new URL(request.url)
  const clientIp = request.headers.get('cf-connecting-ip')
  if (clientIp !== null) headers.set('x-forwarded-for', clientIp)
  headers.set('x-forwarded-proto', url.protocol.slice(0, -1))
  headers.set('x-forwarded-host', url.host)
  headers.set('traceparent', formatTraceparent(scope.trace))
  const target = path + search
  await signIdentityHeaders(headers, {
    method,
    target,
    secret: route.originSecret,
    identity: verified === null ? null : forwardIdentity(verified),
    revocation: verified === null ? null : `skipped; tier=${route.tier}`,
    requestId: scope.requestId,
    nowSeconds: Date.now() / 1000,
  })
  return forwardToOrigin({
    url: route.origin + target,
    method,
    headers,
    body: request.body,
    timeoutMs: route.timeoutMs,
    gatewayCookies: [config.auth.cookieName],
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
  }
}
