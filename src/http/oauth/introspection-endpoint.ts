// POST /auth/introspect (RFC 7662), for administrators of the token's tenant or operators: says
// whether a token
// is active right now — signature, claims and revocation for an access token; session, expiry
// and rotation state for a refresh token. Anything not active is `{"active": false}` and nothing
// more (§2.2), so introspection never explains why a token failed.

import { jsonResponse, requireAdmin } from '../admin/admin-auth'
import { nowSeconds, type RequestContext } from '../request-context'
import { lookupRefreshToken } from '../shard-lookup'
import { grantedScope } from '../auth/token-response'
import { verifyParameterToken } from './verify-parameter-token'
import { looksLikeRefreshToken, readTokenParams } from './token-params'

const INACTIVE = { active: false } as const

interface ActiveToken {
  readonly active: true
  readonly tid: string | undefined
  readonly [claim: string]: unknown
}
type Introspection = typeof INACTIVE | ActiveToken

export async function introspectEndpoint(request: Request, rc: RequestContext): Promise<Response> {
  const admin = await requireAdmin(request, rc)
  const { token } = await readTokenParams(request)
  const answer = looksLikeRefreshToken(token)
    ? await refreshTokenInfo(token, rc)
    : await accessTokenInfo(token, rc)
  // A tenant admin learns nothing about another tenant's tokens: they are simply not active.
  if (answer.active && !admin.operator && answer.tid !== admin.tenant) {
    return jsonResponse(INACTIVE)
  }
  return jsonResponse(answer)
}

async function accessTokenInfo(token: string, rc: RequestContext): Promise<Introspection> {
  const v = await verifyParameterToken(token, rc)
  if (v === null) return INACTIVE
  // Introspection is strict: a revocation store that cannot answer makes the token inactive.
  try {
    const verdict = await rc.services
      .shards(v.issuer.issuer, v.tenant, v.subject)
      .check({ jti: v.tokenId, sid: v.sessionId, iat: v.issuedAt })
    if (verdict.revoked) return INACTIVE
  } catch {
    return INACTIVE
  }
  return {
    active: true as const,
    token_type: 'Bearer',
    scope: v.scope,
    client_id: v.clientId ?? undefined,
    sub: v.subject,
    iss: v.issuer.issuer,
    exp: v.expiresAt,
    iat: v.issuedAt ?? undefined,
    jti: v.tokenId ?? undefined,
    sid: v.sessionId ?? undefined,
    tid: v.tenant || undefined,
  }
}

async function refreshTokenInfo(token: string, rc: RequestContext): Promise<Introspection> {
  const context = await lookupRefreshToken(rc.services, token)
  const now = nowSeconds(rc)
  if (context === null) return INACTIVE
  const s = context.session
  const live =
    s.revokedAt === null &&
    context.token.usedAt === null &&
    now < context.token.expiresAt &&
    now < s.absoluteExpiresAt &&
    now < s.idleExpiresAt &&
    context.userStatus === 'active' &&
    s.credentialVersion === context.credentialVersion
  if (!live) return INACTIVE
  return {
    active: true as const,
    token_type: 'refresh_token',
    scope: grantedScope(s.scope, context.userScopes === '' ? [] : context.userScopes.split(' ')),
    client_id: `gatehouse-${s.clientType}`,
    sub: s.userId,
    iss: rc.config.auth.issuer,
    exp: Math.min(context.token.expiresAt, s.absoluteExpiresAt),
    sid: s.sid,
    tid: s.tenant,
  }
}
