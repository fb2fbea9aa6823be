// Admin: revocations and sessions. POST /admin/revocations takes {jti} | {sid} | {sub, tenant}
// (with optional iss for a third-party subject); GET /admin/sessions lists a user's sessions;
// DELETE /admin/sessions/:sid ends one. A tenant admin reaches only its own tenant; answers
// carry identifiers and times, never tokens.

import { tokenHorizon } from '../../config/config'
import { AuthError } from '../../lib/errors'
import { nowSeconds, type RequestContext } from '../request-context'
import { revokeAccessToken, revokeSubject, type Subject } from '../revoke'
import { endSession } from '../end-session'
import { readJsonObject, optionalStringField } from '../../lib/json-body'
import { listSessions, type Session } from '../../sessions/session-store'
import { lookupSession, lookupUser } from '../shard-lookup'
import { assertTenant, jsonResponse, requireAdmin, type Administrator } from './admin-auth'

/** POST /admin/revocations */
export async function adminRevoke(request: Request, rc: RequestContext): Promise<Response> {
  const admin = await requireAdmin(request, rc)
  const { config, services } = rc
  const body = await readJsonObject(request)
  const jti = optionalStringField(body, 'jti', 300)
  const sid = optionalStringField(body, 'sid', 64)
  const sub = optionalStringField(body, 'sub', 256)
  const tenant = optionalStringField(body, 'tenant', 128)
  const iss = optionalStringField(body, 'iss', 300) ?? config.auth.issuer
  if (!config.issuers.some((i) => i.issuer === iss))
    throw new AuthError('bad_request', { detail: 'unknown iss' })
  const now = nowSeconds(rc)
  const actor = admin.subject

  if (jti !== null) {
    const who =
      sub !== null && tenant !== null
        ? await knownSubject(rc, admin, iss, tenant, sub)
        : await ownerOfJti(rc, admin, jti)
    rc.record.targetJti = jti
    await revokeAccessToken(rc.services, who, jti, tokenHorizon(config, now))
    return jsonResponse({ revoked: 'jti', jti })
  }
  if (sid !== null) {
    const session = await lookupSession(services, sid)
    if (session === null) throw new AuthError('route_not_found', { detail: 'unknown sid' })
    assertTenant(admin, session.tenant)
    rc.record.targetSid = sid
    await endSession(rc.services, session, 'admin', rc.events, actor)
    return jsonResponse({ revoked: 'sid', sid })
  }
  if (sub !== null && tenant !== null) {
    const who = await knownSubject(rc, admin, iss, tenant, sub)
    const ended = await revokeSubject(rc.services, who, 'admin', rc.events, actor)
    return jsonResponse({ revoked: 'subject', sub, tenant, sessions_ended: ended })
  }
  throw new AuthError('bad_request', { detail: 'give jti, sid, or sub and tenant' })
}

/**
 * The subject an admin names, checked: inside the admin's tenant, and — for our own issuer — a
 * user that exists in that tenant (a wrong tenant would write to a shard no token consults).
 */
async function knownSubject(
  rc: RequestContext,
  admin: Administrator,
  issuer: string,
  tenant: string,
  subject: string,
): Promise<Subject> {
  assertTenant(admin, tenant)
  rc.record.targetSubject = subject
  if (issuer === rc.config.auth.issuer) {
    const found = await lookupUser(rc.services, subject)
    if (found === null || found.user.tenant !== tenant) {
      throw new AuthError('route_not_found', { detail: 'no such user in that tenant' })
    }
  }
  return { issuer, tenant, subject }
}

/** Our jtis are `<sid>.<uuid>`: the session row names the subject whose shard holds them. */
async function ownerOfJti(rc: RequestContext, admin: Administrator, jti: string): Promise<Subject> {
  const sid = jti.includes('.') ? jti.slice(0, jti.indexOf('.')) : ''
  const session = sid === '' ? null : await lookupSession(rc.services, sid)
  if (session === null) {
    throw new AuthError('bad_request', {
      detail: 'jti of a foreign token: give sub and tenant too',
    })
  }
  assertTenant(admin, session.tenant)
  return { issuer: rc.config.auth.issuer, tenant: session.tenant, subject: session.userId }
}

/** GET /admin/sessions?sub=…&tenant=… */
export async function adminListSessions(request: Request, rc: RequestContext): Promise<Response> {
  const admin = await requireAdmin(request, rc)
  const params = new URL(request.url).searchParams
  const sub = params.get('sub')
  const tenant = params.get('tenant') ?? admin.tenant
  if (!sub) throw new AuthError('bad_request', { detail: 'sub is required' })
  assertTenant(admin, tenant)
  rc.record.targetSubject = sub
  const found = await lookupUser(rc.services, sub)
  if (found === null || found.user.tenant !== tenant) {
    return jsonResponse({ sub, sessions: [] })
  }
  // A user's sessions live on the user's shard: one query, no fan-out.
  const sessions = await listSessions(found.shard.db, sub)
  return jsonResponse({ sub, tenant: found.user.tenant, sessions: sessions.map(publicSession) })
}

/** DELETE /admin/sessions/:sid */
export async function adminEndSession(
  request: Request,
  rc: RequestContext,
  sid: string,
): Promise<Response> {
  const admin = await requireAdmin(request, rc)
  const session = await lookupSession(rc.services, sid)
  if (session === null) throw new AuthError('route_not_found', { detail: 'unknown sid' })
  assertTenant(admin, session.tenant)
  rc.record.targetSid = sid
  await endSession(rc.services, session, 'admin', rc.events, admin.subject)
  return new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } })
}

function publicSession(s: Session) {
  return {
    sid: s.sid,
    client_type: s.clientType,
    device_id: s.deviceId,
    scope: s.scope,
    created_at: s.createdAt,
    last_used_at: s.lastUsedAt,
    absolute_expires_at: s.absoluteExpiresAt,
    idle_expires_at: s.idleExpiresAt,
    revoked_at: s.revokedAt,
    revoked_reason: s.revokedReason,
    created_country: s.createdCountry,
    last_country: s.lastCountry,
  }
}
