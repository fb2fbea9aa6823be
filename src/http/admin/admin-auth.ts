// Who may use the admin API (DESIGN § Admin model). Every admin endpoint is `critical`: the
// caller's access token must be one of ours (a `self` issuer: a third-party IdP can never mint
// an administrator), carry gatehouse:admin or gatehouse:operator, and pass a revocation check
// that fails closed. gatehouse:admin acts only inside the token's own tenant; gatehouse:operator
// acts on the deployment (signing keys, metrics, explain) and across tenants.

import { AuthError } from '../../lib/errors'
import { splitRequestTarget } from '../../proxy/request-target'
import type { VerifiedToken } from '../../verify/verify-token'
import { authenticate } from '../authenticate'
import type { RequestContext } from '../request-context'

export const ADMIN_SCOPE = 'gatehouse:admin'
export const OPERATOR_SCOPE = 'gatehouse:operator'

/** A verified administrator: whose token, which tenant, and whether it may cross tenants. */
export interface Administrator {
  readonly token: VerifiedToken
  readonly subject: string
  readonly tenant: string
  readonly operator: boolean
}

/**
 * Authenticates an administrator of our own issuer; `operatorOnly` for deployment-wide actions.
 * Throws AuthError (401 incl. issuer_not_allowed, 403 insufficient_scope, 503).
 */
export async function requireAdmin(
  request: Request,
  rc: RequestContext,
  operatorOnly = false,
): Promise<Administrator> {
  const token = await authenticate(request, splitRequestTarget(request.url).search, [], rc)
  rc.record.tier = 'critical'
  if (!token.issuer.self) {
    throw new AuthError('issuer_not_allowed', { detail: 'admin API takes our own tokens only' })
  }
  const operator = token.scopes.includes(OPERATOR_SCOPE)
  if (!operator && (operatorOnly || !token.scopes.includes(ADMIN_SCOPE))) {
    throw new AuthError('insufficient_scope', {
      scope: operatorOnly ? OPERATOR_SCOPE : ADMIN_SCOPE,
    })
  }
  rc.record.revocation = await rc.services.revocation.check(token, 'critical')
  return { token, subject: token.subject, tenant: token.tenant, operator }
}

/** Refuses an action on `tenant` by an admin of another tenant (operators may cross). */
export function assertTenant(admin: Administrator, tenant: string): void {
  if (admin.operator || admin.tenant === tenant) return
  throw new AuthError('tenant_not_allowed', {
    detail: 'target in another tenant',
    scope: OPERATOR_SCOPE,
  })
}

/** Requires the admin API to have an auth server behind it (users and sessions live there). */
export function requireAuthServer(rc: RequestContext): void {
  if (!rc.config.auth.enabled) throw new AuthError('route_not_found')
}

export function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  })
}
