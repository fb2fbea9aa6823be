// Admin: users and signing keys, for a deployed gateway (which starts with no users).
// POST /admin/users creates a user; /admin/users/:id/disable, /enable, /password, /reset-factors
// and /scopes change one (disable and password change kill every older token and session at
// once; listing and scopes live in admin-users.ts);
// POST /admin/keys/rotate rotates the signing keys ({emergency: true} removes the current key
// from the JWKS at once; {emergency: true, kid} removes that key, whatever its state).

import { AuthError } from '../../lib/errors'
import { deleteAllFactors } from '../../factors/factor-store'
import { emitSecurityEvent } from '../../observability/security-events'
import { isScopeList } from '../../lib/scope-token'
import { rotateSigningKeys } from './key-rotation'
import { nowSeconds, type RequestContext } from '../request-context'
import { revokeSubject } from '../revoke'
import { MAX_PASSWORD_LENGTH } from '../auth/login'
import { hashPassword } from '../../accounts/password-hash'
import { readJsonObject, stringField } from '../../lib/json-body'
import {
  changePassword,
  createUser,
  normalizeUsername,
  setUserStatus,
} from '../../accounts/user-store'
import { accountBucket, newUserId } from '../../storage/placement'
import { lookupUser } from '../shard-lookup'
import { assertTenant, jsonResponse, requireAdmin, requireAuthServer } from './admin-auth'
import { TENANT_NAME, assertGrantable, changeUserScopes } from './admin-users'

/** NIST SP 800-63B §5.1.1.2: at least 8 characters; no composition rules. */
const MIN_PASSWORD_LENGTH = 8

function readPassword(body: Record<string, unknown>): string {
  const password = stringField(body, 'password', MAX_PASSWORD_LENGTH)
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    throw new AuthError('bad_request', { detail: `password shorter than ${MIN_PASSWORD_LENGTH}` })
  }
  return password
}

/** POST /admin/users {tenant, username, password, scopes} → 201 {id} | 409 */
export async function adminCreateUser(request: Request, rc: RequestContext): Promise<Response> {
  requireAuthServer(rc)
  const admin = await requireAdmin(request, rc)
  const body = await readJsonObject(request)
  const tenant = stringField(body, 'tenant', 64)
  const username = stringField(body, 'username', 128)
  const password = readPassword(body)
  const scopes = body.scopes ?? []
  if (!TENANT_NAME.test(tenant)) throw new AuthError('bad_request', { detail: 'tenant' })
  if (!isScopeList(scopes)) {
    throw new AuthError('bad_request', { detail: 'scopes must be a list of scope tokens' })
  }
  assertTenant(admin, tenant)
  assertGrantable(admin, scopes)
  // The user's bucket is its account's: login finds it by name, the admin API by id.
  const bucket = await accountBucket(tenant, normalizeUsername(username))
  const shard = rc.services.sessionShards.forBucket(bucket)
  const id = newUserId(bucket)
  const stored = await hashPassword(password, rc.config.auth.passwordPepper)
  const created = await createUser(
    shard.db,
    { id, tenant, username, password: stored, scopes },
    nowSeconds(rc),
  )
  if (!created) throw new AuthError('conflict', { detail: 'username exists' })
  return jsonResponse({ id, tenant, username, scopes }, 201)
}

/** POST /admin/users/:id/{disable|enable|password|reset-factors|scopes} */
export async function adminChangeUser(
  request: Request,
  rc: RequestContext,
  id: string,
  action: string,
): Promise<Response> {
  requireAuthServer(rc)
  const admin = await requireAdmin(request, rc)
  const { config, services } = rc
  const found = await lookupUser(services, id)
  if (found === null) throw new AuthError('route_not_found', { detail: 'unknown user' })
  const { user, shard } = found
  assertTenant(admin, user.tenant)
  // An operator's account is the deployment's: a tenant admin may not disable it, set its
  // password (and so log in as it) or reset its factors, any more than change its scopes.
  assertGrantable(admin, [], user.scopes)
  rc.record.targetSubject = user.id
  const who = { issuer: config.auth.issuer, tenant: user.tenant, subject: user.id }
  if (action === 'enable') {
    await setUserStatus(shard.db, id, 'active')
    return jsonResponse({ id, status: 'active' })
  }
  if (action === 'disable') {
    await setUserStatus(shard.db, id, 'disabled')
    const ended = await revokeSubject(rc.services, who, 'user_disabled', rc.events, admin.subject)
    return jsonResponse({ id, status: 'disabled', sessions_ended: ended })
  }
  if (action === 'password') {
    const password = readPassword(await readJsonObject(request))
    const now = nowSeconds(rc)
    await changePassword(
      shard.db,
      id,
      await hashPassword(password, config.auth.passwordPepper),
      now,
    )
    const ended = await revokeSubject(
      rc.services,
      who,
      'password_changed',
      rc.events,
      admin.subject,
    )
    return jsonResponse({ id, password_changed_at: now, sessions_ended: ended })
  }
  if (action === 'scopes') {
    return changeUserScopes(rc, admin, found, await readJsonObject(request))
  }
  if (action === 'reset-factors') {
    // A user who lost every factor and recovery code, identity verified out of band
    // (docs/RUNBOOK.md § Second factors). The user's sessions end too: an account without a
    // factor takes a first one without MFA, so a session left open (perhaps the reason for the
    // reset) could otherwise enrol its holder's factor. The user logs in again and enrols.
    const removed = await deleteAllFactors(shard.db, id)
    const ended = await revokeSubject(rc.services, who, 'factors_reset', rc.events, admin.subject)
    emitSecurityEvent(rc.events, {
      type: 'factors_reset',
      tenant: user.tenant,
      user_id: id,
      actor: admin.subject,
      factors_removed: removed,
    })
    return jsonResponse({ id, factors_removed: removed, sessions_ended: ended })
  }
  throw new AuthError('route_not_found')
}

/** POST /admin/keys/rotate {emergency?} (operator) */
export async function adminRotateKeys(request: Request, rc: RequestContext): Promise<Response> {
  requireAuthServer(rc)
  await requireAdmin(request, rc, true)
  const body = request.headers.has('content-type') ? await readJsonObject(request) : {}
  if (body.emergency !== undefined && typeof body.emergency !== 'boolean') {
    throw new AuthError('bad_request', { detail: 'emergency must be a boolean' })
  }
  const kid = body.kid === undefined ? null : body.kid
  if (kid !== null && (typeof kid !== 'string' || body.emergency !== true)) {
    throw new AuthError('bad_request', { detail: 'kid is a string, and only with emergency: true' })
  }
  const result = await rotateSigningKeys(rc.services, body.emergency === true, rc.events, kid)
  if (kid !== null && result.removed === null)
    throw new AuthError('route_not_found', { detail: 'unknown kid' })
  return jsonResponse({
    rotated: result.rotated,
    current_kid: result.current,
    removed_kid: result.removed,
    ready_at: result.readyAt === null ? null : Math.ceil(result.readyAt / 1000),
  })
}

/** GET /admin/keys (operator) */
export async function adminKeyStatus(request: Request, rc: RequestContext): Promise<Response> {
  requireAuthServer(rc)
  await requireAdmin(request, rc, true)
  const keys = await rc.services.keyManager().status(rc.services.keySettings)
  const seconds = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000))
  return jsonResponse({
    keys: keys.map((k) => ({
      kid: k.kid,
      state: k.state,
      created_at: seconds(k.createdAt),
      activated_at: seconds(k.activatedAt),
      retired_at: seconds(k.retiredAt),
    })),
  })
}
