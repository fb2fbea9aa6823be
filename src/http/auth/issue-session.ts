// The end of every successful login — password alone, password and a second factor, a passkey
// alone: a new session on the account's shard with its first refresh token, an access token that
// says how the user authenticated (amr, acr, auth_time), the security event, and the answer.

import type { User } from '../../accounts/user-store'
import { mintAccessToken } from '../../keys/signer'
import { countMetric } from '../../observability/metrics'
import { emitSecurityEvent } from '../../observability/security-events'
import { newRefreshToken, hashRefreshToken } from '../../sessions/refresh-token'
import { createSession, type ClientType } from '../../sessions/session-store'
import { newSessionId } from '../../storage/placement'
import type { Shard } from '../../storage/shards'
import { nonceHeaders } from '../dpop'
import type { RequestContext } from '../request-context'
import { clientContext } from './client-context'
import { tokenResponse } from './token-response'

export interface CompletedLogin {
  readonly user: User
  readonly shard: Shard
  /** The account's bucket: the new session id names it. */
  readonly bucket: number
  readonly client: ClientType
  readonly deviceId: string | null
  /** The DPoP key the session is bound to, or null for a bearer session. */
  readonly jkt: string | null
  /** How the user authenticated (RFC 8176). */
  readonly amr: readonly string[]
}

/** Creates the session and answers with its tokens (cookie for web, body for mobile). */
export async function startSession(
  request: Request,
  rc: RequestContext,
  login: CompletedLogin,
  now: number,
): Promise<Response> {
  const { config } = rc
  const auth = config.auth
  const { user, client } = login
  const ctx = await clientContext(request)
  const sid = newSessionId(login.bucket)
  const refreshToken = newRefreshToken(sid)
  const absoluteExpiresAt = now + auth.refresh.absoluteLifetimeSeconds
  const idleExpiresAt = Math.min(now + auth.refresh.idleLifetimeSeconds, absoluteExpiresAt)
  const scopeGranted = user.scopes.join(' ')
  await createSession(
    login.shard.db,
    {
      sid,
      userId: user.id,
      tenant: user.tenant,
      clientType: client,
      deviceId: login.deviceId,
      scope: scopeGranted,
      createdAt: now,
      lastUsedAt: now,
      absoluteExpiresAt,
      idleExpiresAt,
      revokedAt: null,
      revokedReason: null,
      createdCountry: ctx.country,
      lastCountry: ctx.country,
      userAgentHash: ctx.userAgentHash,
      credentialVersion: user.credentialVersion,
      dpopJkt: login.jkt,
      amr: login.amr,
      authTime: now,
    },
    await hashRefreshToken(refreshToken),
    idleExpiresAt,
  )
  const access = await mintAccessToken(
    await rc.services.signer.current(rc.services.now()),
    auth,
    {
      sub: user.id,
      sid,
      tid: user.tenant,
      scope: scopeGranted,
      clientId: `gatehouse-${client}`,
      jkt: login.jkt,
      amr: login.amr,
      authTime: now,
    },
    now,
  )
  rc.record.sid = sid
  rc.record.jti = access.jti
  countMetric('gatehouse_login_total', { result: 'ok' })
  emitSecurityEvent(rc.events, {
    type: 'login_succeeded',
    tenant: user.tenant,
    user_id: user.id,
    sid,
    client,
    dpop: login.jkt !== null,
    amr: login.amr.join(' '),
  })
  return tokenResponse(request, auth, {
    access,
    scope: scopeGranted,
    refreshToken,
    refreshMaxAge: absoluteExpiresAt - now,
    client,
    tokenType: login.jkt === null ? 'Bearer' : 'DPoP',
    headers: await nonceHeaders(rc),
  })
}
