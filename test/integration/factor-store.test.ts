// The single-use guarantees of second factors live in SQL, one conditional statement each, on
// the real local D1: a TOTP time step is claimed once and only forwards, a pending enrolment
// expires, a recovery code is spent once, a passkey counter moves only from the value read, and
// a challenge is consumed once and dies after its allowed failures.

import { describe, expect, it } from 'vitest'
import {
  challengeBucket,
  consumeChallenge,
  countChallengeFailure,
  createChallenge,
  newChallengeToken,
  readChallenge,
} from '../../src/factors/challenge-store'
import {
  claimTotpStep,
  insertPasskey,
  insertPendingTotp,
  listFactors,
  newFactorId,
  recordPasskeyUse,
  replaceRecoveryCodes,
  spendRecoveryCode,
} from '../../src/factors/factor-store'
import { createTestUser } from '../helpers/auth'
import { bucketDb, userDb } from '../helpers/shards'

const NOW = 1_800_000_000

async function pendingTotp(createdAt = NOW) {
  const user = await createTestUser()
  const db = userDb(user.id)
  const id = newFactorId()
  await insertPendingTotp(
    db,
    { id, userId: user.id, tenant: user.tenant, label: 'app', sealedSecret: 'sealed' },
    createdAt,
  )
  return { user, db, id }
}

describe('claimTotpStep', () => {
  it('claims each time step once, only forwards, and activates a fresh pending factor', async () => {
    const { user, db, id } = await pendingTotp()
    expect(await claimTotpStep(db, id, user.id, 100, NOW, NOW - 300)).toBe(true)
    expect((await listFactors(db, user.id))[0]?.status).toBe('active')
    expect(await claimTotpStep(db, id, user.id, 100, NOW, NOW - 300)).toBe(false)
    expect(await claimTotpStep(db, id, user.id, 99, NOW, NOW - 300)).toBe(false)
    expect(await claimTotpStep(db, id, user.id, 101, NOW, NOW - 300)).toBe(true)
  })

  it('refuses a pending factor older than the enrolment window and another user’s factor', async () => {
    const { user, db, id } = await pendingTotp(NOW - 301)
    expect(await claimTotpStep(db, id, user.id, 100, NOW, NOW - 300)).toBe(false)
    expect(await claimTotpStep(db, id, 'usr_000_other', 100, NOW, NOW - 400)).toBe(false)
    expect((await listFactors(db, user.id))[0]?.status).toBe('pending')
  })
})

describe('recovery codes', () => {
  it('are spent once, and a new set replaces the old', async () => {
    const user = await createTestUser()
    const db = userDb(user.id)
    await replaceRecoveryCodes(db, user.id, ['h1', 'h2'], NOW)
    expect(await spendRecoveryCode(db, user.id, 'h1', NOW)).toBe(true)
    expect(await spendRecoveryCode(db, user.id, 'h1', NOW)).toBe(false)
    expect(await spendRecoveryCode(db, 'usr_000_other', 'h2', NOW)).toBe(false)
    await replaceRecoveryCodes(db, user.id, ['h3'], NOW)
    expect(await spendRecoveryCode(db, user.id, 'h2', NOW)).toBe(false)
    expect(await spendRecoveryCode(db, user.id, 'h3', NOW)).toBe(true)
  })
})

describe('passkeys', () => {
  it('move the counter only from the value read, and a credential id is registered once', async () => {
    const user = await createTestUser()
    const db = userDb(user.id)
    const passkey = {
      id: newFactorId(),
      userId: user.id,
      tenant: user.tenant,
      label: 'key',
      credentialId: `cred-${crypto.randomUUID()}`,
      publicKey: 'pk',
      signCount: 5,
      transports: ['internal'],
      backedUp: false,
    }
    expect(await insertPasskey(db, passkey, NOW)).toBe(true)
    expect(await insertPasskey(db, { ...passkey, id: newFactorId() }, NOW)).toBe(false)
    expect(await recordPasskeyUse(db, passkey.id, 5, 6, false, NOW)).toBe(true)
    // A second assertion that read 5 too lost the race.
    expect(await recordPasskeyUse(db, passkey.id, 5, 7, false, NOW)).toBe(false)
  })
})

describe('challenges', () => {
  it('are consumed once, only as their kind, and not after expiry', async () => {
    const token = newChallengeToken(512)
    expect(challengeBucket(token)).toBe(512)
    const db = bucketDb(512)
    await createChallenge(db, token, {
      kind: 'mfa',
      userId: 'usr_200_x',
      sid: null,
      payload: { a: 1 },
      expiresAt: NOW + 300,
    })
    expect(await consumeChallenge(db, token, 'step_up', NOW)).toBeNull()
    expect(await consumeChallenge(db, token, 'mfa', NOW + 300)).toBeNull()
    expect(await readChallenge(db, token, 'mfa', NOW)).toMatchObject({ payload: { a: 1 } })
    expect(await consumeChallenge(db, token, 'mfa', NOW)).toMatchObject({ userId: 'usr_200_x' })
    expect(await consumeChallenge(db, token, 'mfa', NOW)).toBeNull()
    expect(challengeBucket('ghc1.zzz')).toBeNull()
  })

  it('die after their allowed failures', async () => {
    const token = newChallengeToken(3)
    const db = bucketDb(3)
    await createChallenge(db, token, {
      kind: 'mfa',
      userId: null,
      sid: null,
      payload: {},
      expiresAt: NOW + 300,
    })
    expect(await countChallengeFailure(db, token, 3)).toBe(2)
    expect(await countChallengeFailure(db, token, 3)).toBe(1)
    expect(await countChallengeFailure(db, token, 3)).toBe(0)
    expect(await readChallenge(db, token, 'mfa', NOW)).toBeNull()
  })
})
