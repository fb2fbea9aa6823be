// Every admin endpoint is `critical`: the caller's access token must carry gatehouse:admin and
// pass a revocation check that fails closed, so a revoked admin token stops working at once.

import { AuthError } from '../../lib/errors'
import type { RequestContext } from '../request-context'
import { splitRequestTarget } from '../../proxy/request-target'
import { authenticate } from '../authenticate'
import type { VerifiedToken } from '../../verify/verify-token'

export const ADMIN_SCOPE = 'gatehouse:admin'

/** Authenticates an administrator; throws AuthError (401/403/503). */
export async function requireAdmin(request: Request, rc: RequestContext): Promise<VerifiedToken> {
  const token = await authenticate(
    request,
    splitRequestTarget(request.url).search,
    [ADMIN_SCOPE],
    rc,
  )
  rc.record.tier = 'critical'
  rc.record.revocation = await rc.services.revocation.check(token, 'critical')
  return token
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
