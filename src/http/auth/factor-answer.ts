// Checking a second factor, wherever one is asked for (after a password, at a step-up): the
// answer is exactly one of a TOTP code, a recovery code or a passkey assertion; every check is
// throttled per account like passwords and spends what it accepts in one conditional statement
// (a TOTP time step, a recovery code, a passkey counter), so nothing is accepted twice.

import {
  factorThrottleKeys,
  releaseLoginAttempt,
  reserveLoginAttempt,
} from '../../accounts/login-throttle'
import { AuthError } from '../../lib/errors'
import { countMetric } from '../../observability/metrics'
import { emitSecurityEvent } from '../../observability/security-events'
import {
  claimTotpStep,
  findPasskey,
  listFactors,
  recordPasskeyUse,
  spendRecoveryCode,
} from '../../factors/factor-store'
import { hashRecoveryCode, normalizeRecoveryCode } from '../../factors/recovery-codes'
import { matchTotp } from '../../factors/totp'
import { openTotpSecret } from '../../factors/totp-secret'
import { assertionIdentity, verifyAuthentication } from '../../factors/webauthn'
import type { Shard } from '../../storage/shards'
import type { RequestContext } from '../request-context'
import { clientContext } from './client-context'

export type FactorAnswer =
  | { readonly kind: 'otp'; readonly code: string }
  | { readonly kind: 'recovery_code'; readonly code: string }
  | { readonly kind: 'passkey'; readonly credential: unknown }

/** The RFC 8176 method a factor proved: otp (TOTP, recovery code), hwk / swk (a passkey). */
export type FactorMethod = 'otp' | 'hwk' | 'swk'

/** Where the check happens: the flow (a metric label) and what a passkey must answer. */
export interface FactorSetting {
  readonly flow: 'login' | 'passkey_login' | 'step_up'
  /** The WebAuthn challenge issued for this check; null when none was. */
  readonly webauthnChallenge: string | null
  /** A passkey alone must prove user verification (PIN, biometric) to count as two factors. */
  readonly requireUserVerification: boolean
}

const MAX_CODE_LENGTH = 64
/** A body carrying a WebAuthn credential: its JSON is a few KiB; this leaves ample room. */
export const FACTOR_BODY_BYTES = 64 * 1024

/** Reads exactly one of `otp`, `recovery_code` or `passkey` from a JSON body. */
export function readFactorAnswer(body: Readonly<Record<string, unknown>>): FactorAnswer {
  const given = ['otp', 'recovery_code', 'passkey'].filter((k) => body[k] !== undefined)
  if (given.length !== 1) {
    throw new AuthError('bad_request', {
      detail: 'give exactly one of otp, recovery_code or passkey',
    })
  }
  const { otp, recovery_code: recovery, passkey } = body
  if (otp !== undefined) return { kind: 'otp', code: codeText(otp, 'otp') }
  if (recovery !== undefined)
    return { kind: 'recovery_code', code: codeText(recovery, 'recovery_code') }
  if (typeof passkey !== 'object' || passkey === null || Array.isArray(passkey)) {
    throw new AuthError('bad_request', { detail: 'passkey must be a WebAuthn credential object' })
  }
  return { kind: 'passkey', credential: passkey }
}

function codeText(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_CODE_LENGTH) {
    throw new AuthError('bad_request', { detail: `${field} must be a short string` })
  }
  return value
}

interface FactorUser {
  readonly id: string
  readonly tenant: string
}

/**
 * Checks an answer for `user` on its shard, throttled: the method it proved, or AuthError
 * (invalid_grant for a wrong answer, rate_limited when throttled). Counts and logs every outcome.
 */
export async function checkFactor(
  request: Request,
  rc: RequestContext,
  shard: Shard,
  user: FactorUser,
  answer: FactorAnswer,
  setting: FactorSetting,
  now: number,
): Promise<FactorMethod> {
  const ip = (await clientContext(request)).ip
  const keys = await factorThrottleKeys(user.id, ip)
  const stores = {
    account: shard.db,
    network: keys.ip === null ? shard.db : (await rc.services.sessionShards.forNetwork(keys.ip)).db,
  }
  const labels = { flow: setting.flow, factor: answer.kind }
  const wait = await reserveLoginAttempt(stores, keys, now)
  if (wait > 0) {
    countMetric('gatehouse_mfa_total', { ...labels, result: 'throttled' })
    emitSecurityEvent(rc.events, {
      type: 'mfa_throttled',
      tenant: user.tenant,
      user_id: user.id,
      ip,
    })
    throw new AuthError('rate_limited', { retryAfterSeconds: wait })
  }
  const outcome = await answerMatches(rc, shard.db, user, answer, setting, now)
  if (typeof outcome !== 'string' || outcome === 'refused') {
    const reason = outcome === 'refused' ? 'wrong_answer' : outcome.refused
    countMetric('gatehouse_mfa_total', { ...labels, result: 'failed' })
    emitSecurityEvent(rc.events, {
      type: 'mfa_failed',
      tenant: user.tenant,
      user_id: user.id,
      flow: setting.flow,
      factor: answer.kind,
      reason,
      ip,
    })
    throw new AuthError('invalid_grant', { detail: `second factor: ${reason}` })
  }
  rc.waitUntil(releaseLoginAttempt(stores, keys).catch(() => undefined))
  countMetric('gatehouse_mfa_total', { ...labels, result: 'ok' })
  if (answer.kind === 'recovery_code') {
    emitSecurityEvent(rc.events, {
      type: 'recovery_code_used',
      tenant: user.tenant,
      user_id: user.id,
    })
  }
  return outcome
}

type Outcome = FactorMethod | 'refused' | { readonly refused: string }

async function answerMatches(
  rc: RequestContext,
  db: D1Database,
  user: FactorUser,
  answer: FactorAnswer,
  setting: FactorSetting,
  now: number,
): Promise<Outcome> {
  if (answer.kind === 'recovery_code') {
    const normalized = normalizeRecoveryCode(answer.code)
    if (normalized === null) return 'refused'
    const spent = await spendRecoveryCode(db, user.id, await hashRecoveryCode(normalized), now)
    return spent ? 'otp' : 'refused'
  }
  if (answer.kind === 'otp')
    return (await totpMatches(rc, db, user, answer.code, now)) ? 'otp' : 'refused'
  return passkeyMatches(rc, db, user, answer.credential, setting, now)
}

/** A code from any of the user's active authenticator apps, for a time step not used before. */
async function totpMatches(
  rc: RequestContext,
  db: D1Database,
  user: FactorUser,
  code: string,
  now: number,
): Promise<boolean> {
  const factors = (await listFactors(db, user.id)).filter(
    (f) => f.type === 'totp' && f.status === 'active' && f.totpSecretSealed !== null,
  )
  for (const factor of factors) {
    const secret = await openTotpSecret(
      rc.config.auth.keyEncryptionSecret,
      factor.id,
      user.id,
      factor.totpSecretSealed as string,
    )
    if (secret === null) continue
    const step = await matchTotp(secret, code, now, factor.totpLastStep)
    // Claimed only if newer than every step before: a replay in another isolate loses here.
    if (step !== null && (await claimTotpStep(db, factor.id, user.id, step, now, now + 1))) {
      return true
    }
  }
  return false
}

async function passkeyMatches(
  rc: RequestContext,
  db: D1Database,
  user: FactorUser,
  credential: unknown,
  setting: FactorSetting,
  now: number,
): Promise<Outcome> {
  const rp = rc.config.auth.mfa.rp
  if (rp === null || setting.webauthnChallenge === null) return { refused: 'no_passkey_challenge' }
  const identity = assertionIdentity(credential)
  if (identity === null) return { refused: 'malformed' }
  const stored = await findPasskey(db, user.id, identity.credentialId)
  if (stored === null || stored.publicKey === null) return { refused: 'unknown_credential' }
  const result = await verifyAuthentication(
    rp,
    credential,
    setting.webauthnChallenge,
    {
      credentialId: identity.credentialId,
      publicKey: stored.publicKey,
      signCount: stored.signCount,
      transports: [...stored.transports],
    },
    setting.requireUserVerification,
  )
  if (!result.ok) {
    if (result.reason === 'counter_regressed') {
      emitSecurityEvent(rc.events, {
        type: 'passkey_counter_regressed',
        tenant: user.tenant,
        user_id: user.id,
        factor_id: stored.id,
      })
    }
    return { refused: result.reason }
  }
  const recorded = await recordPasskeyUse(
    db,
    stored.id,
    stored.signCount,
    result.newSignCount,
    result.backedUp,
    now,
  )
  if (!recorded) return { refused: 'raced' }
  return result.backedUp ? 'swk' : 'hwk'
}
