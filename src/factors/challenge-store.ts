// Single-use, short-lived challenges in D1: the mfa_token a correct password earns, a passkey
// ceremony's challenge, a step-up's. The client holds `ghc1.<bucket><random>`; the shard keeps
// only its SHA-256, on the shard the bucket names, so the token finds its row with no lookup and
// a database leak yields no usable token. Consuming is one conditional DELETE … RETURNING: two
// isolates presenting the same token cannot both succeed.

import { encodeBase64Url } from '../lib/base64url'
import { newSessionId, sessionBucket } from '../storage/placement'

export type ChallengeKind = 'mfa' | 'passkey_login' | 'passkey_register' | 'step_up'

const PREFIX = 'ghc1.'
const TOKEN = /^ghc1\.([0-9a-f]{3}[A-Za-z0-9_-]{22})$/

export interface Challenge<P> {
  readonly kind: ChallengeKind
  readonly userId: string | null
  readonly sid: string | null
  readonly payload: P
  readonly failures: number
  readonly expiresAt: number
}

interface ChallengeRow {
  kind: string
  user_id: string | null
  sid: string | null
  payload: string
  failures: number
  expires_at: number
}

const encoder = new TextEncoder()

/** A new challenge token whose row lives on the shard of `bucket`. */
export function newChallengeToken(bucket: number): string {
  return `${PREFIX}${newSessionId(bucket)}`
}

/** The bucket a challenge token names, or null when it is not one. */
export function challengeBucket(token: string): number | null {
  const m = TOKEN.exec(token)
  return m === null ? null : sessionBucket(m[1] as string)
}

async function challengeId(token: string): Promise<string> {
  return encodeBase64Url(
    new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(token))),
  )
}

function toChallenge<P>(row: ChallengeRow): Challenge<P> {
  return {
    kind: row.kind as ChallengeKind,
    userId: row.user_id,
    sid: row.sid,
    payload: JSON.parse(row.payload) as P,
    failures: row.failures,
    expiresAt: row.expires_at,
  }
}

export interface NewChallenge<P> {
  readonly kind: ChallengeKind
  readonly userId: string | null
  readonly sid: string | null
  readonly payload: P
  readonly expiresAt: number
}

/** Stores a challenge under the hash of its token. */
export async function createChallenge<P>(
  db: D1Database,
  token: string,
  c: NewChallenge<P>,
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO auth_challenges (id, kind, user_id, sid, payload, expires_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6)`,
    )
    .bind(await challengeId(token), c.kind, c.userId, c.sid, JSON.stringify(c.payload), c.expiresAt)
    .run()
}

/** A live challenge of `kind`, without consuming it; null when unknown, used or expired. */
export async function readChallenge<P>(
  db: D1Database,
  token: string,
  kind: ChallengeKind,
  now: number,
): Promise<Challenge<P> | null> {
  const row = await db
    .prepare('SELECT * FROM auth_challenges WHERE id = ?1 AND kind = ?2 AND expires_at > ?3')
    .bind(await challengeId(token), kind, now)
    .first<ChallengeRow>()
  return row === null ? null : toChallenge<P>(row)
}

/** Consumes a live challenge of `kind`: exactly one caller gets it, every other gets null. */
export async function consumeChallenge<P>(
  db: D1Database,
  token: string,
  kind: ChallengeKind,
  now: number,
): Promise<Challenge<P> | null> {
  const row = await db
    .prepare(
      `DELETE FROM auth_challenges WHERE id = ?1 AND kind = ?2 AND expires_at > ?3
       RETURNING kind, user_id, sid, payload, failures, expires_at`,
    )
    .bind(await challengeId(token), kind, now)
    .first<ChallengeRow>()
  return row === null ? null : toChallenge<P>(row)
}

/**
 * Counts a wrong answer against a challenge; at `maxFailures` the challenge is deleted (the
 * client starts over). Returns the answers left.
 */
export async function countChallengeFailure(
  db: D1Database,
  token: string,
  maxFailures: number,
): Promise<number> {
  const id = await challengeId(token)
  const [, , remaining] = await db.batch<{ failures: number }>([
    db.prepare('UPDATE auth_challenges SET failures = failures + 1 WHERE id = ?1').bind(id),
    db
      .prepare('DELETE FROM auth_challenges WHERE id = ?1 AND failures >= ?2')
      .bind(id, maxFailures),
    db.prepare('SELECT failures FROM auth_challenges WHERE id = ?1').bind(id),
  ])
  const failures = remaining?.results[0]?.failures
  return failures === undefined ? 0 : Math.max(0, maxFailures - failures)
}

/** Deletes expired challenges (cron). */
export async function deleteExpiredChallenges(db: D1Database, now: number): Promise<number> {
  const result = await db
    .prepare('DELETE FROM auth_challenges WHERE expires_at <= ?1')
    .bind(now)
    .run()
  return result.meta.changes ?? 0
}
