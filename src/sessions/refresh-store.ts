// All D1 SQL for rotating refresh tokens. A rotation is one batch (one transaction) whose first
// statement is the conditional `UPDATE … WHERE used_at IS NULL`: exactly one concurrent caller
// can consume a token, and the successor row exists only if that update won. The presented
// token is loaded with its session, its user's standing and its successor's state in one query.

import { toSession, type Session, type SessionRow } from './session-store'

export interface RefreshToken {
  readonly hash: string
  readonly sid: string
  readonly generation: number
  readonly expiresAt: number
  readonly usedAt: number | null
  readonly usedFingerprint: string | null
  readonly successorHash: string | null
  readonly successorSealed: string | null
  readonly successorSealedUntil: number | null
}

/** A presented refresh token with its session, its user's standing and its successor's state. */
export interface RefreshContext {
  readonly token: RefreshToken
  readonly session: Session
  readonly userStatus: string
  readonly userScopes: string
  /** The user's current credential version (bumped by every password change). */
  readonly credentialVersion: number
  /** Whether the successor (if any) is still unused: the parent is then the *immediate* parent. */
  readonly successorUnused: boolean
}

interface ContextRow extends SessionRow {
  token_hash: string
  generation: number
  expires_at: number
  used_at: number | null
  used_fingerprint: string | null
  successor_hash: string | null
  successor_sealed: string | null
  successor_sealed_until: number | null
  user_status: string
  user_scopes: string
  user_credential_version: number
  successor_used_at: number | null
}

/** Loads a presented token with everything a refresh decision needs, in one query. */
export async function findRefreshContext(
  db: D1Database,
  tokenHash: string,
): Promise<RefreshContext | null> {
  const r = await db
    .prepare(
      `SELECT t.token_hash, t.generation, t.expires_at, t.used_at, t.used_fingerprint, t.successor_hash,
              t.successor_sealed, t.successor_sealed_until, s.*,
              u.status AS user_status, u.scopes AS user_scopes,
              u.credential_version AS user_credential_version,
              n.used_at AS successor_used_at
         FROM refresh_tokens t
         JOIN sessions s ON s.sid = t.sid
         JOIN users u ON u.id = s.user_id
         LEFT JOIN refresh_tokens n ON n.token_hash = t.successor_hash
        WHERE t.token_hash = ?1`,
    )
    .bind(tokenHash)
    .first<ContextRow>()
  if (r === null) return null
  return {
    token: {
      hash: r.token_hash,
      sid: r.sid,
      generation: r.generation,
      expiresAt: r.expires_at,
      usedAt: r.used_at,
      usedFingerprint: r.used_fingerprint,
      successorHash: r.successor_hash,
      successorSealed: r.successor_sealed,
      successorSealedUntil: r.successor_sealed_until,
    },
    session: toSession(r),
    userStatus: r.user_status,
    userScopes: r.user_scopes,
    credentialVersion: r.user_credential_version,
    successorUnused: r.successor_hash !== null && r.successor_used_at === null,
  }
}

export interface Rotation {
  readonly parentHash: string
  readonly successorHash: string
  readonly sid: string
  readonly generation: number
  readonly now: number
  readonly successorExpiresAt: number
  readonly sealed: string
  readonly sealedUntil: number
  readonly fingerprint: string
  readonly idleExpiresAt: number
  readonly country: string | null
}

/**
 * Consumes the parent and stores its successor, atomically. Returns true when this call won;
 * false when the parent was already used or the session was revoked meanwhile.
 */
export async function rotateRefreshToken(db: D1Database, r: Rotation): Promise<boolean> {
  const [consumed] = await db.batch([
    db
      .prepare(
        `UPDATE refresh_tokens
            SET used_at = ?2, used_fingerprint = ?3, successor_hash = ?4, successor_sealed = ?5,
                successor_sealed_until = ?6
          WHERE token_hash = ?1 AND used_at IS NULL
            AND EXISTS (SELECT 1 FROM sessions WHERE sid = ?7 AND revoked_at IS NULL)`,
      )
      .bind(r.parentHash, r.now, r.fingerprint, r.successorHash, r.sealed, r.sealedUntil, r.sid),
    // changes() is the row count of the UPDATE just above, in this same transaction.
    db
      .prepare(
        `INSERT INTO refresh_tokens (token_hash, sid, parent_hash, generation, created_at, expires_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE changes() = 1`,
      )
      .bind(r.successorHash, r.sid, r.parentHash, r.generation, r.now, r.successorExpiresAt),
    db
      .prepare(
        `UPDATE sessions SET last_used_at = ?2, idle_expires_at = ?3, last_country = COALESCE(?4, last_country)
          WHERE sid = ?1 AND EXISTS (SELECT 1 FROM refresh_tokens WHERE token_hash = ?5)`,
      )
      .bind(r.sid, r.now, r.idleExpiresAt, r.country, r.successorHash),
  ])
  return consumed?.meta.changes === 1
}
