// Managing one's own second factors (access token of our issuer): list them, enrol an
// authenticator app (TOTP: a secret and its otpauth:// URI, active once a first code confirms
// it), remove a factor, replace the recovery codes. The first active factor comes with ten
// recovery codes, shown once. Changing an account that has a factor needs a fresh MFA.

import { AuthError } from '../../lib/errors'
import { optionalStringField, readJsonObject, stringField } from '../../lib/json-body'
import { countMetric } from '../../observability/metrics'
import { emitSecurityEvent } from '../../observability/security-events'
import {
  claimTotpStep,
  deleteFactor,
  factorSummary,
  insertPendingTotp,
  listFactors,
  MAX_FACTORS_PER_USER,
  newFactorId,
  replaceRecoveryCodes,
  type Factor,
} from '../../factors/factor-store'
import { base32Encode, matchTotp, newTotpSecret, totpUri } from '../../factors/totp'
import { openTotpSecret, sealTotpSecret } from '../../factors/totp-secret'
import { nowSeconds, type RequestContext } from '../request-context'
import {
  factorAccount,
  issueRecoveryCodes,
  privateJson,
  requireFreshMfa,
  type FactorAccount,
} from './factor-account'
import { withStoreFailuresAs503 } from './store-failure'

const MAX_LABEL_LENGTH = 64
const LABEL = /^[^\u0000-\u001f\u007f]*$/

/** An optional factor label: printable, at most 64 characters. */
export function readLabel(body: Record<string, unknown>, fallback: string): string {
  const label = optionalStringField(body, 'label', MAX_LABEL_LENGTH)
  if (label !== null && !LABEL.test(label)) {
    throw new AuthError('bad_request', { detail: 'label has control characters' })
  }
  return label ?? fallback
}

function publicFactor(f: Factor) {
  return {
    id: f.id,
    type: f.type,
    label: f.label,
    created_at: f.createdAt,
    last_used_at: f.lastUsedAt,
  }
}

/** Refuses a new factor beyond the per-user cap. */
export function assertRoomForFactor(factors: readonly Factor[]): void {
  if (factors.length >= MAX_FACTORS_PER_USER) {
    throw new AuthError('conflict', { detail: `at most ${MAX_FACTORS_PER_USER} factors` })
  }
}

/** Records an activated factor; returns recovery codes when it is the account's first. */
export async function factorActivated(
  rc: RequestContext,
  account: FactorAccount,
  factor: { id: string; type: 'totp' | 'passkey' },
  firstFactor: boolean,
  now: number,
): Promise<string[] | null> {
  countMetric('gatehouse_mfa_total', { flow: 'enrol', factor: factor.type, result: 'ok' })
  emitSecurityEvent(rc.events, {
    type: 'factor_enrolled',
    tenant: account.user.tenant,
    user_id: account.user.id,
    sid: account.sid,
    factor_id: factor.id,
    factor: factor.type,
  })
  if (!firstFactor) return null
  const codes = await issueRecoveryCodes(account.shard.db, account.user.id, now)
  emitSecurityEvent(rc.events, {
    type: 'recovery_codes_created',
    tenant: account.user.tenant,
    user_id: account.user.id,
  })
  return codes
}

/** GET /auth/factors */
export function listOwnFactors(request: Request, rc: RequestContext): Promise<Response> {
  return withStoreFailuresAs503('factors', async () => {
    const account = await factorAccount(request, rc)
    const { factors, recoveryCodes } = await factorSummary(account.shard.db, account.user.id)
    return privateJson({
      factors: factors.map(publicFactor),
      recovery_codes_remaining: recoveryCodes,
    })
  })
}

/**
 * The start of an enrolment: the caller's account, the label asked for, and the user's factors,
 * after the checks every new factor passes (a fresh MFA when one is active, room for one more).
 */
export async function startEnrolment(request: Request, rc: RequestContext, fallback: string) {
  const account = await factorAccount(request, rc)
  const label = readLabel(await readJsonObject(request), fallback)
  const all = await listFactors(account.shard.db, account.user.id)
  requireFreshMfa(
    rc,
    account,
    all.some((f) => f.status === 'active'),
  )
  assertRoomForFactor(all)
  return { account, label, all }
}

/** POST /auth/factors/totp: a pending authenticator-app factor and its secret. */
export function enrolTotp(request: Request, rc: RequestContext): Promise<Response> {
  return withStoreFailuresAs503('factors', async () => {
    const { account, label } = await startEnrolment(request, rc, 'Authenticator app')
    const id = newFactorId()
    const secret = newTotpSecret()
    const { auth } = rc.config
    await insertPendingTotp(
      account.shard.db,
      {
        id,
        userId: account.user.id,
        tenant: account.user.tenant,
        label,
        sealedSecret: await sealTotpSecret(auth.keyEncryptionSecret, id, account.user.id, secret),
      },
      nowSeconds(rc),
    )
    return privateJson({
      factor_id: id,
      secret: base32Encode(secret),
      otpauth_uri: totpUri(secret, auth.mfa.totpIssuer, account.user.username),
      status: 'pending',
      expires_in: auth.mfa.challengeTtlSeconds,
    })
  })
}

/** POST /auth/factors/totp/confirm {factor_id, code}: the first code activates the factor. */
export function confirmTotp(request: Request, rc: RequestContext): Promise<Response> {
  return withStoreFailuresAs503('factors', async () => {
    const account = await factorAccount(request, rc)
    const body = await readJsonObject(request)
    const factorId = stringField(body, 'factor_id', 64)
    const code = stringField(body, 'code', 16)
    const now = nowSeconds(rc)
    const all = await listFactors(account.shard.db, account.user.id)
    const active = all.filter((f) => f.status === 'active')
    requireFreshMfa(rc, account, active.length > 0)
    const ttl = rc.config.auth.mfa.challengeTtlSeconds
    const pending = all.find((f) => f.id === factorId && f.type === 'totp')
    if (pending === undefined || pending.status !== 'pending' || pending.createdAt < now - ttl) {
      throw new AuthError('invalid_grant', { detail: 'no such pending authenticator app' })
    }
    const secret = await openTotpSecret(
      rc.config.auth.keyEncryptionSecret,
      pending.id,
      account.user.id,
      pending.totpSecretSealed ?? '',
    )
    const step = secret === null ? null : await matchTotp(secret, code, now, pending.totpLastStep)
    if (
      step === null ||
      !(await claimTotpStep(account.shard.db, pending.id, account.user.id, step, now, now - ttl))
    ) {
      countMetric('gatehouse_mfa_total', { flow: 'enrol', factor: 'totp', result: 'failed' })
      throw new AuthError('invalid_grant', { detail: 'confirmation code does not match' })
    }
    const codes = await factorActivated(rc, account, pending, active.length === 0, now)
    return privateJson({
      factor_id: pending.id,
      status: 'active',
      ...(codes === null ? {} : { recovery_codes: codes }),
    })
  })
}

/** DELETE /auth/factors/:id */
export function removeFactor(request: Request, rc: RequestContext, id: string): Promise<Response> {
  return withStoreFailuresAs503('factors', async () => {
    const account = await factorAccount(request, rc)
    const { factors } = await factorSummary(account.shard.db, account.user.id)
    requireFreshMfa(rc, account, factors.length > 0)
    if (!(await deleteFactor(account.shard.db, account.user.id, id))) {
      throw new AuthError('route_not_found', { detail: 'no such factor' })
    }
    // Recovery codes stand in for a second factor: without one left they go too.
    if (factors.every((f) => f.id === id)) {
      await replaceRecoveryCodes(account.shard.db, account.user.id, [], nowSeconds(rc))
    }
    emitSecurityEvent(rc.events, {
      type: 'factor_removed',
      tenant: account.user.tenant,
      user_id: account.user.id,
      sid: account.sid,
      factor_id: id,
    })
    return new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } })
  })
}

/** POST /auth/factors/recovery-codes: a new set; the old codes stop working. */
export function renewRecoveryCodes(request: Request, rc: RequestContext): Promise<Response> {
  return withStoreFailuresAs503('factors', async () => {
    const account = await factorAccount(request, rc)
    const { factors } = await factorSummary(account.shard.db, account.user.id)
    if (factors.length === 0) {
      throw new AuthError('bad_request', { detail: 'recovery codes need a second factor first' })
    }
    requireFreshMfa(rc, account, true)
    const codes = await issueRecoveryCodes(account.shard.db, account.user.id, nowSeconds(rc))
    emitSecurityEvent(rc.events, {
      type: 'recovery_codes_created',
      tenant: account.user.tenant,
      user_id: account.user.id,
      sid: account.sid,
    })
    return privateJson({ recovery_codes: codes })
  })
}
