// Step-up (RFC 9470): a client refused with insufficient_user_authentication proves a second
// factor with its current access token and gets a new access token for the same session, with
// auth_time now and amr naming the factor. The session records it, so later refreshes carry it;
// the refresh token is untouched. POST /auth/step-up/options first when the answer is a passkey.

import { AuthError } from '../../lib/errors'
import { readJsonObject, stringField } from '../../lib/json-body'
import { mintAccessToken } from '../../keys/signer'
import { countMetric } from '../../observability/metrics'
import { emitSecurityEvent } from '../../observability/security-events'
import {
  challengeBucket,
  consumeChallenge,
  createChallenge,
  newChallengeToken,
} from '../../factors/challenge-store'
import { factorSummary } from '../../factors/factor-store'
import { authenticationOptions } from '../../factors/webauthn'
import { findSession, recordStepUp } from '../../sessions/session-store'
import { nonceHeaders } from '../dpop'
import { nowSeconds, type RequestContext } from '../request-context'
import { factorAccount, privateJson, type FactorAccount } from './factor-account'
import { checkFactor, FACTOR_BODY_BYTES, readFactorAnswer } from './factor-answer'
import { factorChoices } from './mfa-login'
import { withStoreFailuresAs503 } from './store-failure'

interface StepUpChallenge {
  readonly webauthn: string
}

async function enrolledFactors(account: FactorAccount) {
  const summary = await factorSummary(account.shard.db, account.user.id)
  if (summary.factors.length === 0) {
    throw new AuthError('mfa_not_enrolled', { detail: 'step-up needs an enrolled second factor' })
  }
  return summary
}

/** POST /auth/step-up/options: which factors the user can answer with, and a passkey challenge. */
export function stepUpOptions(request: Request, rc: RequestContext): Promise<Response> {
  return withStoreFailuresAs503('step_up', async () => {
    const account = await factorAccount(request, rc)
    const { factors, recoveryCodes } = await enrolledFactors(account)
    const rp = rc.config.auth.mfa.rp
    const passkeys = factors.filter((f) => f.type === 'passkey' && f.credentialId !== null)
    const ttl = rc.config.auth.mfa.challengeTtlSeconds
    const answer: Record<string, unknown> = {
      factors: factorChoices(factors, recoveryCodes, rp !== null),
      expires_in: ttl,
    }
    if (rp !== null && passkeys.length > 0) {
      const { options, challenge } = await authenticationOptions(
        rp,
        passkeys.map((p) => ({
          credentialId: p.credentialId as string,
          transports: [...p.transports],
        })),
        'preferred',
      )
      const token = newChallengeToken(account.bucket)
      await createChallenge<StepUpChallenge>(account.shard.db, token, {
        kind: 'step_up',
        userId: account.user.id,
        sid: account.sid,
        payload: { webauthn: challenge },
        expiresAt: nowSeconds(rc) + ttl,
      })
      answer.challenge_token = token
      answer.passkey_options = options
    }
    return privateJson(answer)
  })
}

/** POST /auth/step-up {otp} | {recovery_code} | {challenge_token, passkey} */
export function stepUp(request: Request, rc: RequestContext): Promise<Response> {
  return withStoreFailuresAs503('step_up', () => stepUpFlow(request, rc))
}

async function stepUpFlow(request: Request, rc: RequestContext): Promise<Response> {
  const account = await factorAccount(request, rc)
  const body = await readJsonObject(request, FACTOR_BODY_BYTES)
  const answer = readFactorAnswer(body)
  const now = nowSeconds(rc)
  await enrolledFactors(account)
  let webauthnChallenge: string | null = null
  if (answer.kind === 'passkey') {
    const token = stringField(body, 'challenge_token', 64)
    if (challengeBucket(token) === null) {
      throw new AuthError('invalid_grant', { detail: 'malformed challenge_token' })
    }
    const challenge = await consumeChallenge<StepUpChallenge>(
      account.shard.db,
      token,
      'step_up',
      now,
    )
    if (challenge === null || challenge.sid !== account.sid) {
      throw new AuthError('invalid_grant', {
        detail: 'challenge unknown, used, expired or another session’s',
      })
    }
    webauthnChallenge = challenge.payload.webauthn
  }
  const session = await findSession(account.shard.db, account.sid)
  if (session === null || session.revokedAt !== null || session.userId !== account.user.id) {
    throw new AuthError('invalid_grant', { detail: 'session gone or revoked' })
  }
  const method = await checkFactor(
    request,
    rc,
    account.shard,
    account.user,
    answer,
    {
      flow: 'step_up',
      webauthnChallenge,
      requireUserVerification: false,
    },
    now,
  )
  // The first factor the session began with stays named; the step-up adds its own.
  const first = session.amr.filter((m) => m !== 'mfa' && m !== method)
  const amr = [...first, method, 'mfa']
  if (!(await recordStepUp(account.shard.db, account.sid, amr, now))) {
    throw new AuthError('invalid_grant', { detail: 'session revoked during step-up' })
  }
  const { token } = account
  const access = await mintAccessToken(
    await rc.services.signer.current(rc.services.now()),
    rc.config.auth,
    {
      sub: account.user.id,
      sid: account.sid,
      tid: account.user.tenant,
      scope: token.scope,
      clientId: token.clientId ?? `gatehouse-${session.clientType}`,
      jkt: session.dpopJkt,
      amr,
      authTime: now,
    },
    now,
  )
  rc.record.jti = access.jti
  countMetric('gatehouse_step_up_total', { result: 'passed' })
  emitSecurityEvent(rc.events, {
    type: 'step_up_succeeded',
    tenant: account.user.tenant,
    user_id: account.user.id,
    sid: account.sid,
    amr: amr.join(' '),
  })
  return new Response(
    JSON.stringify({
      access_token: access.token,
      token_type: session.dpopJkt === null ? 'Bearer' : 'DPoP',
      expires_in: access.expiresIn,
      scope: token.scope,
    }),
    {
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        ...(await nonceHeaders(rc)),
      },
    },
  )
}
