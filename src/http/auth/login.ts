// POST /auth/login: reserve a throttle slot → look up → verify (a dummy hash for unknown users)
// → (a second factor enrolled: 403 mfa_required with an mfa_token) → session → tokens. Unknown user, wrong password and disabled account give the same status, body and
// (one Argon2 run each) time; the throttle answers 429 before any hash runs.

import { AuthError } from '../../lib/errors'
import { countMetric } from '../../observability/metrics'
import { emitSecurityEvent } from '../../observability/security-events'
import { nowSeconds, type RequestContext } from '../request-context'
import { assertBrowserOrigin } from './browser-policy'
import { DEVICE_ID, clientContext } from './client-context'
import {
  releaseLoginAttempt,
  reserveLoginAttempt,
  throttleKeys,
} from '../../accounts/login-throttle'
import { DUMMY_PASSWORD, hashPassword, verifyPassword } from '../../accounts/password-hash'
import { accountBucket } from '../../storage/placement'
import { readJsonObject, optionalStringField, stringField } from '../../lib/json-body'
import type { ClientType } from '../../sessions/session-store'
import { tokenEndpointProof } from '../dpop'
import { startSession } from './issue-session'
import { requireSecondFactor } from './mfa-login'
import { withStoreFailuresAs503 } from './store-failure'
import { findUserByName, normalizeUsername, upgradePasswordHash } from '../../accounts/user-store'

/** Passwords are taken exactly as typed; 1 024 characters is far above any passphrase. */
export const MAX_PASSWORD_LENGTH = 1024
const MAX_USERNAME_LENGTH = 128
export const TENANT = /^[A-Za-z0-9._-]{1,64}$/

export function login(request: Request, rc: RequestContext): Promise<Response> {
  return withStoreFailuresAs503('login', () => loginFlow(request, rc))
}

async function loginFlow(request: Request, rc: RequestContext): Promise<Response> {
  const { config, services } = rc
  const auth = config.auth
  const body = await readJsonObject(request)
  const tenant = stringField(body, 'tenant', 64)
  const username = stringField(body, 'username', MAX_USERNAME_LENGTH)
  const password = stringField(body, 'password', MAX_PASSWORD_LENGTH)
  const client = readClientType(body.client)
  const deviceId = optionalStringField(body, 'device_id', 128)
  if (!TENANT.test(tenant)) throw new AuthError('bad_request', { detail: 'tenant' })
  if (deviceId !== null && !DEVICE_ID.test(deviceId))
    throw new AuthError('bad_request', { detail: 'device_id' })
  if (client === 'mobile' && deviceId === null) {
    throw new AuthError('bad_request', { detail: 'device_id is required for mobile clients' })
  }
  // A browser login from a foreign page would plant the attacker's session (login CSRF).
  if (client === 'web') assertBrowserOrigin(request.headers, auth, false)
  // A proof binds the session to the client's key; checked before any attempt is counted.
  const proof = await tokenEndpointProof(request, rc, '/auth/login')
  if (proof === null && auth.dpop.requiredFor.includes(client)) {
    throw new AuthError('invalid_dpop_proof', {
      detail: `DPoP required for ${client} clients`,
      tokenEndpoint: true,
    })
  }

  const now = nowSeconds(rc)
  const ctx = await clientContext(request)
  const sink = rc.events
  const normalized = normalizeUsername(username)
  const keys = await throttleKeys(tenant, normalized, ctx.ip)
  // Everything about this account lives on one shard, chosen by the account's bucket.
  const bucket = await accountBucket(tenant, normalized)
  const shard = services.sessionShards.forBucket(bucket)
  rc.record.shard = shard.name
  const throttle = {
    account: shard.db,
    network: keys.ip === null ? shard.db : (await services.sessionShards.forNetwork(keys.ip)).db,
  }
  // Reserved atomically before the hash: a burst of concurrent guesses cannot all get through.
  const wait = await reserveLoginAttempt(throttle, keys, now)
  if (wait > 0) {
    countMetric('gatehouse_login_total', { result: 'throttled' })
    emitSecurityEvent(sink, { type: 'login_throttled', tenant, ip: ctx.ip })
    throw new AuthError('rate_limited', { retryAfterSeconds: wait })
  }

  const user = await findUserByName(shard.db, tenant, username)
  const check = await verifyPassword(
    user?.password ?? DUMMY_PASSWORD,
    password,
    auth.passwordPepper,
  )
  if (user === null || !check.ok || user.status !== 'active') {
    countMetric('gatehouse_login_total', { result: 'invalid_grant' })
    emitSecurityEvent(sink, {
      type: 'login_failed',
      tenant,
      user_id: user?.id ?? null,
      reason: user === null ? 'unknown_user' : check.ok ? 'disabled' : 'wrong_password',
      ip: ctx.ip,
    })
    throw new AuthError('invalid_grant', { detail: 'login' })
  }
  rc.waitUntil(releaseLoginAttempt(throttle, keys).catch(() => undefined))
  if (check.needsRehash) {
    rc.waitUntil(
      hashPassword(password, auth.passwordPepper)
        .then((stored) => upgradePasswordHash(shard.db, user.id, stored))
        .catch(() => undefined),
    )
  }

  const login = {
    user,
    shard,
    bucket,
    client,
    deviceId,
    jkt: proof?.jkt ?? null,
    amr: ['pwd'],
  }
  // With a second factor enrolled the password earns only an mfa_token (403 mfa_required).
  await requireSecondFactor(rc, login, now)
  return startSession(request, rc, login, now)
}

export function readClientType(value: unknown): ClientType {
  if (value === undefined || value === 'web') return 'web'
  if (value === 'mobile') return 'mobile'
  throw new AuthError('bad_request', { detail: 'client must be "web" or "mobile"' })
}
