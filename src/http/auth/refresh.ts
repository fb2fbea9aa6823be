// POST /auth/refresh: rotation on every use, exactly once. The conditional D1 update lets one
// caller consume a token; every other caller presenting the *immediate* parent within the reuse
// window from the same device gets the same sealed successor (two tabs, a lost response). Any
// other presentation of a used token is theft: the whole session dies, access tokens included.
// Infrastructure errors propagate as 503 and revoke nothing: a failed batch consumed nothing.

import { AuthError } from '../../lib/errors'
import { mintAccessToken, type Signer } from '../../keys/signer'
import { logLine } from '../../observability/log'
import { countMetric } from '../../observability/metrics'
import { emitSecurityEvent, type EventSink } from '../../observability/security-events'
import { nowSeconds, type RequestContext } from '../request-context'
import { clientContext, deviceFingerprint } from './client-context'
import { endSession } from '../end-session'
import {
  hashRefreshToken,
  newRefreshToken,
  refreshTokenSessionId,
  sealSuccessor,
  unsealSuccessor,
} from '../../sessions/refresh-token'
import { readPresentedToken, type Presented } from './presented-token'
import type { RefreshContext } from '../../sessions/refresh-store'
import type { Session } from '../../sessions/session-store'
import { nonceHeaders, tokenEndpointProof } from '../dpop'
import { assertKeyHolder, noteSuspicious } from './refresh-client'
import { rotateOnShard } from '../shard-lookup'
import { withStoreFailuresAs503 } from './store-failure'
import { grantedScope, tokenResponse } from './token-response'

/** POST /auth/refresh; counts every outcome in gatehouse_refresh_total. */
export async function refresh(request: Request, rc: RequestContext): Promise<Response> {
  try {
    const { response, result } = await withStoreFailuresAs503('refresh', () => rotate(request, rc))
    countMetric('gatehouse_refresh_total', { result })
    return response
  } catch (err) {
    const reuse = err instanceof RefreshReuseError
    const result = reuse ? 'reuse_detected' : err instanceof AuthError ? err.reason : 'internal'
    countMetric('gatehouse_refresh_total', { result })
    throw err
  }
}

/** invalid_grant for a detected reuse: its own class, so the outcome is counted as reuse. */
class RefreshReuseError extends AuthError {
  constructor() {
    super('invalid_grant', { detail: 'refresh token reuse' })
  }
}

type RefreshResult = 'rotated' | 'same_successor'

async function rotate(
  request: Request,
  rc: RequestContext,
): Promise<{ response: Response; result: RefreshResult }> {
  const { config, services } = rc
  const presented = await readPresentedToken(request, config.auth)
  const proof = await tokenEndpointProof(request, rc, '/auth/refresh')
  const sid = refreshTokenSessionId(presented.token)
  if (sid === null) throw new AuthError('invalid_grant', { detail: 'malformed refresh token' })
  // The session's shard is named by the token itself: no lookup, one database.
  const home = services.sessionShards.forSession(sid)
  if (home === null) throw new AuthError('invalid_grant', { detail: 'token names no shard' })
  rc.record.shard = home.name
  const now = nowSeconds(rc)
  const ctx = await clientContext(request)
  const fingerprint = deviceFingerprint(presented.client, presented.deviceId, ctx)
  // Everything that can fail before minting is done before the rotation commits: a KeyManager
  // outage must answer 503 with the parent token still unused, not burn it.
  const signer = await services.signer.current(services.now())
  const successor = newRefreshToken(sid)
  // One round trip reads the token's state and rotates it if every rule holds (the same rules
  // assertKeyHolder and assertSessionUsable apply below to the state it read).
  const found = await rotateOnShard(
    services,
    {
      parentHash: await hashRefreshToken(presented.token),
      successorHash: await hashRefreshToken(successor),
      sid,
      now,
      idleLimit: now + config.auth.refresh.idleLifetimeSeconds,
      sealed: await sealSuccessor(successor, presented.token),
      sealedUntil: now + config.auth.refresh.reuseIntervalSeconds,
      fingerprint,
      country: ctx.country,
    },
    {
      client: presented.client,
      deviceId: presented.deviceId,
      proofJkt: proof?.jkt ?? null,
      bearerAllowed: !config.auth.dpop.requiredFor.includes(presented.client),
    },
  )
  if (found === null) throw new AuthError('invalid_grant', { detail: 'unknown refresh token' })
  rc.record.shard = found.shard.name
  rc.record.sid = sid
  const { context } = found
  const sink = rc.events
  assertKeyHolder(context.session, proof, presented, config.auth.dpop.requiredFor, sink)
  await assertSessionUsable(context, presented, now, rc, sink)
  if (found.rotated) {
    noteSuspicious(context, ctx, sink)
    return {
      response: await issue(request, rc, context, successor, now, signer),
      result: 'rotated',
    }
  }
  if (context.token.usedAt === null) {
    // Every rule held on the state read, yet the guarded UPDATE in the same transaction refused:
    // the two statements of the rules disagree. Refuse, and say so (nothing was consumed).
    logLine('error', 'refresh_guard_mismatch', { sid })
    throw new AuthError('invalid_grant', { detail: 'rotation refused' })
  }

  const token = context.token
  const withinWindow =
    token.usedAt !== null && now - token.usedAt <= config.auth.refresh.reuseIntervalSeconds
  if (
    withinWindow &&
    context.successorUnused &&
    token.successorSealed !== null &&
    token.usedFingerprint === fingerprint
  ) {
    const issued = await unsealSuccessor(token.successorSealed, presented.token)
    if (issued !== null) {
      return {
        response: await issue(request, rc, context, issued, now, signer),
        result: 'same_successor',
      }
    }
  }
  emitSecurityEvent(sink, {
    type: 'refresh_reuse_detected',
    tenant: context.session.tenant,
    user_id: context.session.userId,
    sid,
    generation: token.generation,
    used_seconds_ago: token.usedAt === null ? null : now - token.usedAt,
    same_device: token.usedFingerprint === fingerprint,
    country: ctx.country,
    session_country: context.session.lastCountry,
  })
  await endSessionAfterReuse(rc, context.session, sink)
  throw new RefreshReuseError()
}

/** Ends a session after a detected reuse; the caller answers invalid_grant whatever happens. */
async function endSessionAfterReuse(
  rc: RequestContext,
  session: Session,
  sink: EventSink,
): Promise<void> {
  try {
    await endSession(rc.services, session, 'refresh_reuse', sink)
  } catch (err) {
    // The D1 row is revoked first, so no refresh works any more; if the revocation store is
    // down too, the session's access tokens live until exp (≤ the access-token lifetime).
    logLine('error', 'reuse_revocation_incomplete', {
      sid: session.sid,
      reason: err instanceof AuthError ? err.reason : 'error',
    })
  }
}

/** Refuses a session that may no longer refresh; ends it when the user's standing changed. */
async function assertSessionUsable(
  context: RefreshContext,
  presented: Presented,
  now: number,
  rc: RequestContext,
  sink: EventSink,
): Promise<void> {
  const s = context.session
  if (s.revokedAt !== null) throw new AuthError('invalid_grant', { detail: 'session revoked' })
  if (now >= s.absoluteExpiresAt || now >= s.idleExpiresAt || now >= context.token.expiresAt) {
    throw new AuthError('invalid_grant', { detail: 'session expired' })
  }
  // A web session's token only travels in its HttpOnly cookie; a mobile one only with its device.
  if (
    s.clientType !== presented.client ||
    (s.clientType === 'mobile' && s.deviceId !== presented.deviceId)
  ) {
    emitSecurityEvent(sink, {
      type: 'refresh_suspicious',
      tenant: s.tenant,
      user_id: s.userId,
      sid: s.sid,
      reason: 'device_mismatch',
    })
    // A refresh token that reaches another device or transport has leaked, rotated or not (the
    // device id is no secret): that is theft, and the session dies with its access tokens.
    emitSecurityEvent(sink, {
      type: 'refresh_reuse_detected',
      tenant: s.tenant,
      user_id: s.userId,
      sid: s.sid,
      generation: context.token.generation,
      reason: 'foreign_device',
    })
    await endSessionAfterReuse(rc, s, sink)
    throw new RefreshReuseError()
  }
  if (context.userStatus !== 'active' || s.credentialVersion !== context.credentialVersion) {
    const reason = context.userStatus !== 'active' ? 'user_disabled' : 'password_changed'
    await endSession(rc.services, s, reason, sink)
    throw new AuthError('invalid_grant', { detail: reason })
  }
}

async function issue(
  request: Request,
  rc: RequestContext,
  context: RefreshContext,
  successor: string,
  now: number,
  signer: Signer,
): Promise<Response> {
  const { config } = rc
  const s = context.session
  const granted = grantedScope(
    s.scope,
    context.userScopes === '' ? [] : context.userScopes.split(' '),
  )
  const access = await mintAccessToken(
    signer,
    config.auth,
    {
      sub: s.userId,
      sid: s.sid,
      tid: s.tenant,
      scope: granted,
      clientId: `gatehouse-${s.clientType}`,
      jkt: s.dpopJkt,
      // How the user authenticated stays what the session recorded: a refresh never upgrades it.
      amr: s.amr,
      authTime: s.authTime,
    },
    now,
  )
  rc.record.jti = access.jti
  return tokenResponse(request, config.auth, {
    access,
    scope: granted,
    refreshToken: successor,
    refreshMaxAge: s.absoluteExpiresAt - now,
    client: s.clientType,
    tokenType: s.dpopJkt === null ? 'Bearer' : 'DPoP',
    headers: await nonceHeaders(rc),
  })
}
