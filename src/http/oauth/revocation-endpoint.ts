// POST /auth/revoke (RFC 7009). A refresh token ends its whole session (its access tokens
// included, through the RevocationShard); a valid access token is revoked by jti until its exp.
// The answer is 200 for anything well-formed — unknown, expired or garbage tokens included
// (§2.2): revocation reveals nothing about a token.

import type { RequestScope } from '../request-context'
import { revokeAccessToken } from '../revoke'
import { endSession } from '../end-session'
import { hashRefreshToken, refreshTokenSessionId } from '../../sessions/refresh-token'
import { findRefreshContext } from '../../sessions/refresh-store'
import { withStoreFailuresAs503 } from '../auth/store-failure'
import { verifyWithScope } from './verify-with-scope'
import { looksLikeRefreshToken, readTokenParams } from './token-params'

export function revokeEndpoint(request: Request, scope: RequestScope): Promise<Response> {
  return withStoreFailuresAs503('revoke', () => revoke(request, scope))
}

async function revoke(request: Request, scope: RequestScope): Promise<Response> {
  const { token } = await readTokenParams(request)
  const { env, config } = scope
  if (looksLikeRefreshToken(token)) {
    const sid = refreshTokenSessionId(token)
    const context =
      sid === null ? null : await findRefreshContext(env.DB, await hashRefreshToken(token))
    if (context !== null && context.session.sid === sid) {
      const sink = {
        queue: env.AUTH_EVENTS,
        waitUntil: scope.waitUntil,
        requestId: scope.requestId,
      }
      await endSession(env, config, context.session, 'revoked_by_client', sink, 'client')
      scope.record.sid = sid
    }
  } else {
    const verified = await verifyWithScope(token, scope)
    if (verified !== null && verified.tokenId !== null) {
      const who = {
        issuer: verified.issuer.issuer,
        tenant: verified.tenant,
        subject: verified.subject,
      }
      await revokeAccessToken(env, who, verified.tokenId, Math.ceil(verified.expiresAt))
      scope.record.jti = verified.tokenId
    }
  }
  return new Response(null, { status: 200, headers: { 'cache-control': 'no-store' } })
}
