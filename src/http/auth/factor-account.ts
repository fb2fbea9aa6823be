// Who is managing second factors or stepping up: the caller's own access token (our issuer only,
// revocation-checked fail closed like every critical endpoint), its live user on the user's
// shard, and the rule that changing an account that already has a second factor needs a fresh
// MFA — otherwise a stolen password alone could add the thief's authenticator or remove the
// owner's.

import { normalizeUsername, type User } from '../../accounts/user-store'
import { AuthError } from '../../lib/errors'
import { replaceRecoveryCodes } from '../../factors/factor-store'
import {
  hashRecoveryCode,
  newRecoveryCodes,
  normalizeRecoveryCode,
} from '../../factors/recovery-codes'
import { splitRequestTarget } from '../../proxy/request-target'
import { accountBucket } from '../../storage/placement'
import type { Shard } from '../../storage/shards'
import type { VerifiedToken } from '../../verify/verify-token'
import { assertAuthenticationLevel, authenticate } from '../authenticate'
import type { RequestContext } from '../request-context'
import { lookupUser } from '../shard-lookup'

export interface FactorAccount {
  readonly token: VerifiedToken
  readonly user: User
  readonly shard: Shard
  /** The account's bucket: challenges for it live on its shard. */
  readonly bucket: number
  readonly sid: string
}

/** Authenticates the caller and loads its user; throws AuthError. */
export async function factorAccount(request: Request, rc: RequestContext): Promise<FactorAccount> {
  const token = await authenticate(request, splitRequestTarget(request.url).search, [], rc)
  rc.record.tier = 'critical'
  if (!token.issuer.self) {
    throw new AuthError('issuer_not_allowed', { detail: 'factors belong to our own accounts' })
  }
  if (token.sessionId === null) throw new AuthError('invalid_claims', { detail: 'no sid' })
  rc.record.revocation = await rc.services.revocation.check(token, 'critical')
  const found = await lookupUser(rc.services, token.subject)
  if (found === null || found.user.tenant !== token.tenant || found.user.status !== 'active') {
    throw new AuthError('invalid_grant', { detail: 'no active user for this token' })
  }
  rc.record.shard = found.shard.name
  const bucket = await accountBucket(found.user.tenant, normalizeUsername(found.user.username))
  return { token, user: found.user, shard: found.shard, bucket, sid: token.sessionId }
}

/**
 * With a second factor enrolled, changes need a recent MFA (acr mfa within
 * auth.mfa.manage_max_auth_age_seconds): else 401 insufficient_user_authentication.
 */
export function requireFreshMfa(rc: RequestContext, account: FactorAccount, enrolled: boolean) {
  if (!enrolled) return
  assertAuthenticationLevel(
    account.token,
    [],
    { acrValues: ['mfa'], maxAuthAgeSeconds: rc.config.auth.mfa.manageMaxAuthAgeSeconds },
    rc,
  )
}

/** A fresh set of recovery codes replacing the old: the codes, shown once, hashes stored. */
export async function issueRecoveryCodes(
  db: D1Database,
  userId: string,
  now: number,
): Promise<string[]> {
  const codes = newRecoveryCodes()
  const hashes = await Promise.all(
    codes.map((code) => hashRecoveryCode(normalizeRecoveryCode(code) as string)),
  )
  await replaceRecoveryCodes(db, userId, hashes, now)
  return codes
}

/** The configured WebAuthn relying party; 404 when passkeys are off (no rp_id for an IP host). */
export function relyingParty(rc: RequestContext) {
  const rp = rc.config.auth.mfa.rp
  if (rp === null) throw new AuthError('route_not_found', { detail: 'passkeys are not configured' })
  return rp
}

/** JSON with no-store: every factor answer may carry a secret shown once. */
export function privateJson(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  })
}
