// Registering a passkey on one's own account (access token of our issuer): options with a
// single-use challenge stored on the account's shard, then the authenticator's answer, verified
// against the configured RP ID and origins. The credential is discoverable (resident), so it can
// later log in alone; its user handle is the Gatehouse user id.

import { AuthError } from '../../lib/errors'
import { readJsonObject, stringField } from '../../lib/json-body'
import { countMetric } from '../../observability/metrics'
import {
  challengeBucket,
  consumeChallenge,
  createChallenge,
  newChallengeToken,
} from '../../factors/challenge-store'
import { insertPasskey, listFactors, newFactorId } from '../../factors/factor-store'
import { registrationOptions, verifyRegistration } from '../../factors/webauthn'
import { nowSeconds, type RequestContext } from '../request-context'
import { factorAccount, privateJson, relyingParty, requireFreshMfa } from './factor-account'
import { FACTOR_BODY_BYTES } from './factor-answer'
import { assertRoomForFactor, factorActivated, readLabel, startEnrolment } from './factors'
import { withStoreFailuresAs503 } from './store-failure'

interface RegistrationChallenge {
  readonly webauthn: string
  readonly label: string
}

/** POST /auth/passkeys/register/options {label?} */
export function passkeyRegistrationOptions(
  request: Request,
  rc: RequestContext,
): Promise<Response> {
  return withStoreFailuresAs503('factors', async () => {
    const rp = relyingParty(rc)
    const { account, label, all } = await startEnrolment(request, rc, 'Passkey')
    const { user } = account
    const { options, challenge } = await registrationOptions(
      rp,
      { id: user.id, name: user.username, displayName: user.username },
      all
        .filter((f) => f.type === 'passkey' && f.credentialId !== null)
        .map((f) => ({ credentialId: f.credentialId as string, transports: [...f.transports] })),
    )
    const token = newChallengeToken(account.bucket)
    const ttl = rc.config.auth.mfa.challengeTtlSeconds
    await createChallenge<RegistrationChallenge>(account.shard.db, token, {
      kind: 'passkey_register',
      userId: user.id,
      sid: account.sid,
      payload: { webauthn: challenge, label },
      expiresAt: nowSeconds(rc) + ttl,
    })
    return privateJson({ challenge_token: token, expires_in: ttl, options })
  })
}

/** POST /auth/passkeys/register {challenge_token, credential, label?} */
export function registerPasskey(request: Request, rc: RequestContext): Promise<Response> {
  return withStoreFailuresAs503('factors', async () => {
    const rp = relyingParty(rc)
    const account = await factorAccount(request, rc)
    const body = await readJsonObject(request, FACTOR_BODY_BYTES)
    const token = stringField(body, 'challenge_token', 64)
    const credential = body.credential
    if (typeof credential !== 'object' || credential === null || Array.isArray(credential)) {
      throw new AuthError('bad_request', {
        detail: 'credential must be a WebAuthn credential object',
      })
    }
    const now = nowSeconds(rc)
    if (challengeBucket(token) === null) {
      throw new AuthError('invalid_grant', { detail: 'malformed challenge_token' })
    }
    const challenge = await consumeChallenge<RegistrationChallenge>(
      account.shard.db,
      token,
      'passkey_register',
      now,
    )
    if (challenge === null || challenge.userId !== account.user.id) {
      throw new AuthError('invalid_grant', {
        detail: 'challenge unknown, used, expired or another user’s',
      })
    }
    const all = await listFactors(account.shard.db, account.user.id)
    const active = all.filter((f) => f.status === 'active')
    requireFreshMfa(rc, account, active.length > 0)
    assertRoomForFactor(all)
    const result = await verifyRegistration(rp, credential, challenge.payload.webauthn)
    if (!result.ok) {
      countMetric('gatehouse_mfa_total', { flow: 'enrol', factor: 'passkey', result: 'failed' })
      throw new AuthError('invalid_grant', { detail: `passkey registration: ${result.reason}` })
    }
    const id = newFactorId()
    const stored = await insertPasskey(
      account.shard.db,
      {
        id,
        userId: account.user.id,
        tenant: account.user.tenant,
        label: readLabel(body, challenge.payload.label),
        credentialId: result.credentialId,
        publicKey: result.publicKey,
        signCount: result.signCount,
        transports: result.transports,
        backedUp: result.backedUp,
      },
      now,
    )
    if (!stored) throw new AuthError('conflict', { detail: 'credential registered already' })
    const codes = await factorActivated(
      rc,
      account,
      { id, type: 'passkey' },
      active.length === 0,
      now,
    )
    return privateJson({
      factor_id: id,
      status: 'active',
      ...(codes === null ? {} : { recovery_codes: codes }),
    })
  })
}
