// The rotation's guard against the real D1: one batch reads the token's state and consumes it
// only if every rule the refresh handler applies to that state holds. Each case breaks one rule
// on an otherwise valid web session and asserts that nothing was consumed and no successor was
// stored; the valid cases assert the successor's generation and expiry computed in SQL.

import { beforeEach, describe, expect, it } from 'vitest'
import {
  rotateRefreshToken,
  type Rotation,
  type RotationGuard,
} from '../../src/sessions/refresh-store'
import { hashRefreshToken, newRefreshToken } from '../../src/sessions/refresh-token'
import { authEnv, webSession, type WebSession } from '../helpers/auth'
import { installNetwork } from '../helpers/gateway'
import { sessionDb, userDb } from '../helpers/shards'

const gw = authEnv()
beforeEach(() => {
  installNetwork()
})

const WEB: RotationGuard = { client: 'web', deviceId: null, proofJkt: null, bearerAllowed: true }

interface Attempt {
  readonly session: WebSession
  readonly rotation: Rotation
  readonly successorHash: string
}

async function attempt(session: WebSession, change: Partial<Rotation> = {}): Promise<Attempt> {
  const now = Math.floor(Date.now() / 1000)
  const successorHash = await hashRefreshToken(newRefreshToken(session.sid))
  const rotation: Rotation = {
    parentHash: await hashRefreshToken(session.refresh),
    successorHash,
    sid: session.sid,
    now,
    idleLimit: now + 3600,
    sealed: 'sealed',
    sealedUntil: now + 30,
    fingerprint: 'fp',
    country: null,
    ...change,
  }
  return { session, rotation, successorHash }
}

/** Runs a statement on the session's row (?1: its sid) or its user's (?2: the user id). */
async function sql(session: WebSession, statement: string, db = sessionDb(session.sid)) {
  const binds = statement.includes('?2') ? [session.user.id] : [session.sid]
  await db
    .prepare(statement.replace('?2', '?1'))
    .bind(...binds)
    .run()
}

async function stored(a: Attempt): Promise<{ n: number; used: number }> {
  const db = sessionDb(a.session.sid)
  const successor = await db
    .prepare('SELECT COUNT(*) AS n FROM refresh_tokens WHERE token_hash = ?1')
    .bind(a.successorHash)
    .first<{ n: number }>()
  const parent = await db
    .prepare('SELECT COUNT(*) AS n FROM refresh_tokens WHERE token_hash = ?1 AND used_at = ?2')
    .bind(a.rotation.parentHash, a.rotation.now)
    .first<{ n: number }>()
  return { n: successor?.n ?? -1, used: parent?.n ?? -1 }
}

describe('the rotation guard', () => {
  const refused: [string, (s: WebSession) => Promise<Partial<Rotation> | void>, RotationGuard][] = [
    ['a used token', (s) => sql(s, 'UPDATE refresh_tokens SET used_at = 1 WHERE sid = ?1'), WEB],
    [
      'an expired token',
      (s) => sql(s, 'UPDATE refresh_tokens SET expires_at = 1 WHERE sid = ?1'),
      WEB,
    ],
    [
      'a revoked session',
      (s) => sql(s, "UPDATE sessions SET revoked_at = 1, revoked_reason = 'logout' WHERE sid = ?1"),
      WEB,
    ],
    [
      'a session past its absolute lifetime',
      (s) => sql(s, 'UPDATE sessions SET absolute_expires_at = 1 WHERE sid = ?1'),
      WEB,
    ],
    [
      'a session past its idle lifetime',
      (s) => sql(s, 'UPDATE sessions SET idle_expires_at = 1 WHERE sid = ?1'),
      WEB,
    ],
    ['another client type', async () => undefined, { ...WEB, client: 'mobile' }],
    [
      'a mobile session from another device',
      (s) =>
        sql(s, "UPDATE sessions SET client_type = 'mobile', device_id = 'phone-1' WHERE sid = ?1"),
      { ...WEB, client: 'mobile', deviceId: 'phone-2' },
    ],
    [
      'a disabled user',
      (s) => sql(s, "UPDATE users SET status = 'disabled' WHERE id = ?2", userDb(s.user.id)),
      WEB,
    ],
    [
      'a password changed since the login',
      (s) =>
        sql(
          s,
          'UPDATE users SET credential_version = credential_version + 1 WHERE id = ?2',
          userDb(s.user.id),
        ),
      WEB,
    ],
    [
      'a DPoP-bound session without a proof',
      (s) => sql(s, "UPDATE sessions SET dpop_jkt = 'jkt-a' WHERE sid = ?1"),
      WEB,
    ],
    [
      'a DPoP-bound session with another key',
      (s) => sql(s, "UPDATE sessions SET dpop_jkt = 'jkt-a' WHERE sid = ?1"),
      { ...WEB, proofJkt: 'jkt-b' },
    ],
    [
      'a bearer session where DPoP is required',
      async () => undefined,
      { ...WEB, bearerAllowed: false },
    ],
    ['a token of another session', async () => ({ sid: 'another-session' }), WEB],
  ]

  it.each(refused)('consumes nothing and stores no successor for %s', async (_, setup, guard) => {
    const session = await webSession(gw)
    const change = (await setup(session)) ?? {}
    const a = await attempt(session, change)
    const { context, rotated } = await rotateRefreshToken(sessionDb(session.sid), a.rotation, guard)
    expect(rotated).toBe(false)
    expect(context?.token.hash).toBe(a.rotation.parentHash) // the state before, read in the batch
    expect(await stored(a)).toEqual({ n: 0, used: 0 })
  })

  const allowed: [string, (s: WebSession) => Promise<void>, RotationGuard][] = [
    ['a web session', async () => undefined, WEB],
    [
      'a mobile session from its device',
      (s) =>
        sql(s, "UPDATE sessions SET client_type = 'mobile', device_id = 'phone-1' WHERE sid = ?1"),
      { ...WEB, client: 'mobile', deviceId: 'phone-1' },
    ],
    [
      'a DPoP-bound session with its key, where DPoP is required',
      (s) => sql(s, "UPDATE sessions SET dpop_jkt = 'jkt-a' WHERE sid = ?1"),
      { ...WEB, proofJkt: 'jkt-a', bearerAllowed: false },
    ],
  ]

  it.each(allowed)('rotates %s once, the successor one generation on', async (_, setup, guard) => {
    const session = await webSession(gw)
    await setup(session)
    const a = await attempt(session)
    const db = sessionDb(session.sid)
    const first = await rotateRefreshToken(db, a.rotation, guard)
    expect(first.rotated).toBe(true)
    expect(first.context?.token.usedAt).toBeNull() // read before the UPDATE
    expect(await stored(a)).toEqual({ n: 1, used: 1 })
    const row = await db
      .prepare(
        `SELECT n.generation - p.generation AS step, n.expires_at AS expires, s.idle_expires_at AS idle
           FROM refresh_tokens n JOIN refresh_tokens p ON p.token_hash = n.parent_hash
           JOIN sessions s ON s.sid = n.sid WHERE n.token_hash = ?1`,
      )
      .bind(a.successorHash)
      .first<{ step: number; expires: number; idle: number }>()
    expect(row).toEqual({ step: 1, expires: a.rotation.idleLimit, idle: a.rotation.idleLimit })
    // The same parent again: already used, refused.
    const again = await rotateRefreshToken(db, { ...a.rotation, successorHash: 'other' }, guard)
    expect(again.rotated).toBe(false)
  })

  it('caps the successor and the session at the absolute lifetime', async () => {
    const session = await webSession(gw)
    const a = await attempt(session)
    const absolute = a.rotation.now + 600 // sooner than idleLimit (now + 3600)
    await sessionDb(session.sid)
      .prepare('UPDATE sessions SET absolute_expires_at = ?2 WHERE sid = ?1')
      .bind(session.sid, absolute)
      .run()
    expect((await rotateRefreshToken(sessionDb(session.sid), a.rotation, WEB)).rotated).toBe(true)
    const row = await sessionDb(session.sid)
      .prepare(
        `SELECT n.expires_at AS expires, s.idle_expires_at AS idle
           FROM refresh_tokens n JOIN sessions s ON s.sid = n.sid WHERE n.token_hash = ?1`,
      )
      .bind(a.successorHash)
      .first<{ expires: number; idle: number }>()
    expect(row).toEqual({ expires: absolute, idle: absolute })
  })
})
