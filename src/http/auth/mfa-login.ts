// Login with a second factor. A correct password for an account with an active factor earns no
// tokens: 403 mfa_required with a short-lived mfa_token (and WebAuthn request options when the
// user has a passkey). POST /auth/login/mfa {mfa_token, otp | recovery_code | passkey} then
// finishes the login. The mfa_token survives a few wrong answers and is consumed by the right one.

import { findUserById } from '../../accounts/user-store'
import { AuthError } from '../../lib/errors'
import { readJsonObject, stringField } from '../../lib/json-body'
import { countMetric } from '../../observability/metrics'
import { emitSecurityEvent } from '../../observability/security-events'
import {
  challengeBucket,
  consumeChallenge,
  countChallengeFailure,
  createChallenge,
  newChallengeToken,
  readChallenge,
} from '../../factors/challenge-store'
import { factorSummary, type Factor } from '../../factors/factor-store'
import { authenticationOptions } from '../../factors/webauthn'
import type { ClientType } from '../../sessions/session-store'
import { tokenEndpointProof } from '../dpop'
import { nowSeconds, type RequestContext } from '../request-context'
import { assertBrowserOrigin } from './browser-policy'
import { checkFactor, FACTOR_BODY_BYTES, readFactorAnswer } from './factor-answer'
import { startSession, type CompletedLogin } from './issue-session'
import { withStoreFailuresAs503 } from './store-failure'

/** Wrong answers one mfa_token survives; then the password step starts over. */
export const MFA_TOKEN_MAX_FAILURES = 5

/** What the password step leaves for the second: the login it would have completed. */
interface PendingLogin {
  readonly bucket: number
  readonly client: ClientType
  readonly deviceId: string | null
  readonly jkt: string | null
  readonly webauthn: string | null
}

/** The factor kinds a user can answer with (passkeys only where a relying party is set). */
export function factorChoices(
  factors: readonly Factor[],
  recoveryCodes: number,
  passkeys: boolean,
): string[] {
  const kinds = new Set(factors.map((f) => f.type).filter((t) => passkeys || t !== 'passkey'))
  return [...kinds, ...(recoveryCodes > 0 ? ['recovery_code'] : [])]
}

/**
 * Returns when the user has no active second factor; otherwise stores the pending login and
 * throws 403 mfa_required carrying the mfa_token.
 */
export async function requireSecondFactor(
  rc: RequestContext,
  login: CompletedLogin,
  now: number,
): Promise<void> {
  const { db } = login.shard
  const { factors, recoveryCodes } = await factorSummary(db, login.user.id)
  if (factors.length === 0) return
  const mfa = rc.config.auth.mfa
  const passkeys = factors.filter((f) => f.type === 'passkey' && f.credentialId !== null)
  const webauthn =
    mfa.rp !== null && passkeys.length > 0
      ? await authenticationOptions(
          mfa.rp,
          passkeys.map((p) => ({
            credentialId: p.credentialId as string,
            transports: [...p.transports],
          })),
          'preferred',
        )
      : null
  const token = newChallengeToken(login.bucket)
  const pending: PendingLogin = {
    bucket: login.bucket,
    client: login.client,
    deviceId: login.deviceId,
    jkt: login.jkt,
    webauthn: webauthn?.challenge ?? null,
  }
  await createChallenge(db, token, {
    kind: 'mfa',
    userId: login.user.id,
    sid: null,
    payload: pending,
    expiresAt: now + mfa.challengeTtlSeconds,
  })
  countMetric('gatehouse_login_total', { result: 'mfa_required' })
  emitSecurityEvent(rc.events, {
    type: 'mfa_required',
    tenant: login.user.tenant,
    user_id: login.user.id,
  })
  throw new AuthError('mfa_required', {
    detail: 'password verified; second factor required',
    body: {
      mfa_token: token,
      expires_in: mfa.challengeTtlSeconds,
      factors: factorChoices(factors, recoveryCodes, mfa.rp !== null),
      ...(webauthn === null ? {} : { passkey_options: webauthn.options }),
    },
  })
}

/** POST /auth/login/mfa: the second step of a login. */
export function completeMfaLogin(request: Request, rc: RequestContext): Promise<Response> {
  return withStoreFailuresAs503('login', () => secondStep(request, rc))
}

async function secondStep(request: Request, rc: RequestContext): Promise<Response> {
  const body = await readJsonObject(request, FACTOR_BODY_BYTES)
  const token = stringField(body, 'mfa_token', 64)
  const answer = readFactorAnswer(body)
  const proof = await tokenEndpointProof(request, rc, '/auth/login/mfa')
  const bucket = challengeBucket(token)
  if (bucket === null) throw new AuthError('invalid_grant', { detail: 'malformed mfa_token' })
  const shard = rc.services.sessionShards.forBucket(bucket)
  rc.record.shard = shard.name
  const now = nowSeconds(rc)
  const pending = await readChallenge<PendingLogin>(shard.db, token, 'mfa', now)
  if (pending === null || pending.userId === null) {
    throw new AuthError('invalid_grant', { detail: 'mfa_token unknown, used or expired' })
  }
  const login = pending.payload
  // The cookie a web login sets must not be planted from a foreign page (login CSRF).
  if (login.client === 'web') assertBrowserOrigin(request.headers, rc.config.auth, false)
  // A login begun with a DPoP key finishes with that key: the session is bound to it.
  if (login.jkt !== null && proof?.jkt !== login.jkt) {
    throw new AuthError(proof === null ? 'invalid_dpop_proof' : 'dpop_binding_mismatch', {
      detail: 'the mfa step needs a proof by the login’s key',
      tokenEndpoint: true,
    })
  }
  const user = await findUserById(shard.db, pending.userId)
  if (user === null || user.status !== 'active') {
    throw new AuthError('invalid_grant', { detail: 'user gone or disabled' })
  }
  rc.record.subject = user.id
  rc.record.tenant = user.tenant
  let method
  try {
    method = await checkFactor(
      request,
      rc,
      shard,
      user,
      answer,
      {
        flow: 'login',
        webauthnChallenge: login.webauthn,
        requireUserVerification: false,
      },
      now,
    )
  } catch (err) {
    if (err instanceof AuthError && err.reason === 'invalid_grant') {
      await countChallengeFailure(shard.db, token, MFA_TOKEN_MAX_FAILURES)
    }
    throw err
  }
  // The right answer consumes the token: of two concurrent right answers, one logs in.
  if ((await consumeChallenge(shard.db, token, 'mfa', now)) === null) {
    throw new AuthError('invalid_grant', { detail: 'mfa_token used concurrently' })
  }
  const completed: CompletedLogin = {
    user,
    shard,
    bucket: login.bucket,
    client: login.client,
    deviceId: login.deviceId,
    jkt: login.jkt ?? proof?.jkt ?? null,
    amr: ['pwd', method, 'mfa'],
  }
  return startSession(request, rc, completed, now)
}
