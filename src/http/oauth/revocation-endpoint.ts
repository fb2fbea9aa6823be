// POST /auth/revoke (RFC 7009). A refresh token ends its whole session (its access tokens
// included, through the RevocationShard); a valid access token is revoked by jti until its exp.
// The answer is 200 for anything well-formed — unknown, expired or garbage tokens included
// (§2.2): revocation reveals nothing about a token.

import type { RequestContext } from '../request-context'
import { revokeAccessToken } from '../revoke'
import { endSession } from '../end-session'
import { lookupRefreshToken } from '../shard-lookup'
import { withStoreFailuresAs503 } from '../auth/store-failure'
import { verifyParameterToken } from './verify-parameter-token'
import { looksLikeRefreshToken, readTokenParams } from './token-params'

export function revokeEndpoint(request: Request, rc: RequestContext): Promise<Response> {
  return withStoreFailuresAs503('revoke', () => revoke(request, rc))
}

async function revoke(request: Request, rc: RequestContext): Promise<Response> {
  const { token } = await readTokenParams(request)
  const { services } = rc
  if (looksLikeRefreshToken(token)) {
    const context = await lookupRefreshToken(services, token)
    if (context !== null) {
      await endSession(rc.services, context.session, 'revoked_by_client', rc.events, 'client')
      rc.record.targetSid = context.session.sid
    }
  } else {
    const verified = await verifyParameterToken(token, rc)
    if (verified !== null && verified.tokenId !== null) {
      const who = {
        issuer: verified.issuer.issuer,
        tenant: verified.tenant,
        subject: verified.subject,
      }
      await revokeAccessToken(rc.services, who, verified.tokenId, Math.ceil(verified.expiresAt))
    }
  }
  return new Response(null, { status: 200, headers: { 'cache-control': 'no-store' } })
}
