// Admin: users and signing keys, for a deployed gateway (which starts with no users).
// POST /admin/users creates a user; /admin/users/:id/disable, /enable and /password change one
// (disable and password change kill every older token and session at once);
// POST /admin/keys/rotate rotates the signing keys ({emergency: true} removes the current key
// from the JWKS at once; {emergency: true, kid} removes that key, whatever its state).

import { AuthError } from '../../lib/errors'
import { rotateSigningKeys } from './key-rotation'
import { getKeyManager, keyManagerSettings } from '../../keys/key-manager'
import type { RequestScope } from '../request-context'
import { revokeSubject } from '../revoke'
import { MAX_PASSWORD_LENGTH } from '../auth/login'
import { hashPassword } from '../../accounts/password-hash'
import { readJsonObject, stringField } from '../../lib/json-body'
import { changePassword, createUser, findUserById, setUserStatus } from '../../accounts/user-store'
import { jsonResponse, requireAdmin, requireAuthServer } from './admin-auth'

/** NIST SP 800-63B §5.1.1.2: at least 8 characters; no composition rules. */
const MIN_PASSWORD_LENGTH = 8
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/

function sinkOf(scope: RequestScope) {
  return { queue: scope.env.AUTH_EVENTS, waitUntil: scope.waitUntil, requestId: scope.requestId }
}

function readPassword(body: Record<string, unknown>): string {
  const password = stringField(body, 'password', MAX_PASSWORD_LENGTH)
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    throw new AuthError('bad_request', { detail: `password shorter than ${MIN_PASSWORD_LENGTH}` })
  }
  return password
}

/** POST /admin/users {tenant, username, password, scopes} → 201 {id} | 409 */
export async function adminCreateUser(request: Request, scope: RequestScope): Promise<Response> {
  requireAuthServer(scope)
  await requireAdmin(request, scope)
  const body = await readJsonObject(request)
  const tenant = stringField(body, 'tenant', 64)
  const username = stringField(body, 'username', 128)
  const password = readPassword(body)
  const scopes = body.scopes ?? []
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(tenant))
    throw new AuthError('bad_request', { detail: 'tenant' })
  if (
    !Array.isArray(scopes) ||
    !scopes.every((s) => typeof s === 'string' && SCOPE_TOKEN.test(s))
  ) {
    throw new AuthError('bad_request', { detail: 'scopes must be a list of scope tokens' })
  }
  const id = `usr_${crypto.randomUUID().replace(/-/g, '')}`
  const stored = await hashPassword(password, scope.config.auth.passwordPepper)
  const created = await createUser(
    scope.env.DB,
    { id, tenant, username, password: stored, scopes: scopes as string[] },
    Math.floor(Date.now() / 1000),
  )
  if (!created)
    return jsonResponse({ error: 'conflict', error_description: 'The username exists' }, 409)
  return jsonResponse({ id, tenant, username, scopes }, 201)
}

/** POST /admin/users/:id/{disable|enable|password} */
export async function adminChangeUser(
  request: Request,
  scope: RequestScope,
  id: string,
  action: string,
): Promise<Response> {
  requireAuthServer(scope)
  const admin = await requireAdmin(request, scope)
  const { env, config } = scope
  const user = await findUserById(env.DB, id)
  if (user === null) throw new AuthError('route_not_found', { detail: 'unknown user' })
  const who = { issuer: config.auth.issuer, tenant: user.tenant, subject: user.id }
  if (action === 'enable') {
    await setUserStatus(env.DB, id, 'active')
    return jsonResponse({ id, status: 'active' })
  }
  if (action === 'disable') {
    await setUserStatus(env.DB, id, 'disabled')
    const ended = await revokeSubject(
      env,
      config,
      who,
      'user_disabled',
      sinkOf(scope),
      admin.subject,
    )
    return jsonResponse({ id, status: 'disabled', sessions_ended: ended })
  }
  if (action === 'password') {
    const password = readPassword(await readJsonObject(request))
    const now = Math.floor(Date.now() / 1000)
    await changePassword(env.DB, id, await hashPassword(password, config.auth.passwordPepper), now)
    const ended = await revokeSubject(
      env,
      config,
      who,
      'password_changed',
      sinkOf(scope),
      admin.subject,
    )
    return jsonResponse({ id, password_changed_at: now, sessions_ended: ended })
  }
  throw new AuthError('route_not_found')
}

/** POST /admin/keys/rotate {emergency?} */
export async function adminRotateKeys(request: Request, scope: RequestScope): Promise<Response> {
  requireAuthServer(scope)
  await requireAdmin(request, scope)
  const body = request.headers.has('content-type') ? await readJsonObject(request) : {}
  if (body.emergency !== undefined && typeof body.emergency !== 'boolean') {
    throw new AuthError('bad_request', { detail: 'emergency must be a boolean' })
  }
  const kid = body.kid === undefined ? null : body.kid
  if (kid !== null && (typeof kid !== 'string' || body.emergency !== true)) {
    throw new AuthError('bad_request', { detail: 'kid is a string, and only with emergency: true' })
  }
  const result = await rotateSigningKeys(
    scope.env,
    scope.config,
    body.emergency === true,
    sinkOf(scope),
    kid,
  )
  if (kid !== null && result.removed === null)
    throw new AuthError('route_not_found', { detail: 'unknown kid' })
  return jsonResponse({
    rotated: result.rotated,
    current_kid: result.current,
    removed_kid: result.removed,
    ready_at: result.readyAt === null ? null : Math.ceil(result.readyAt / 1000),
  })
}

/** GET /admin/keys */
export async function adminKeyStatus(request: Request, scope: RequestScope): Promise<Response> {
  requireAuthServer(scope)
  await requireAdmin(request, scope)
  const keys = await getKeyManager(scope.env).status(keyManagerSettings(scope.config))
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
