// All D1 SQL for rotating refresh tokens. A rotation is one round trip: one batch (one
// transaction) that reads the presented token with its session, its user's standing and its
// successor's state, then runs the conditional `UPDATE … WHERE used_at IS NULL` guarded by every
// rule a rotation must meet: exactly one concurrent caller can consume a token, only while its
// session may refresh, and the successor row exists only if that update won. The caller decides
// a refused rotation (reuse window, theft, expiry) on the state read in the same transaction.

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

const CONTEXT_SQL = `SELECT t.token_hash, t.generation, t.expires_at, t.used_at, t.used_fingerprint, t.successor_hash,
              t.successor_sealed, t.successor_sealed_until, s.*,
              u.status AS user_status, u.scopes AS user_scopes,
              u.credential_version AS user_credential_version,
              n.used_at AS successor_used_at
         FROM refresh_tokens t
         JOIN sessions s ON s.sid = t.sid
         JOIN users u ON u.id = s.user_id
         LEFT JOIN refresh_tokens n ON n.token_hash = t.successor_hash
        WHERE t.token_hash = ?1`

/** Loads a presented token with everything a refresh decision needs, in one query. */
export async function findRefreshContext(
  db: D1Database,
  tokenHash: string,
): Promise<RefreshContext | null> {
  const r = await db.prepare(CONTEXT_SQL).bind(tokenHash).first<ContextRow>()
  return r === null ? null : toContext(r)
}

function toContext(r: ContextRow): RefreshContext {
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
  readonly now: number
  /** now + the idle lifetime: the successor and the session expire then, or at the session's
   *  absolute expiry if that comes first (taken from the row, in the transaction). */
  readonly idleLimit: number
  readonly sealed: string
  readonly sealedUntil: number
  readonly fingerprint: string
  readonly country: string | null
}

/**
 * What the presenter must match for the rotation to happen, checked inside the UPDATE (the same
 * rules the caller applies to the state it reads, so a rotation the caller would refuse never
 * commits).
 */
export interface RotationGuard {
  readonly client: string
  readonly deviceId: string | null
  /** The DPoP proof's key thumbprint, or null without a proof. */
  readonly proofJkt: string | null
  /** Whether a session bound to no key may rotate (DPoP not required for this client type). */
  readonly bearerAllowed: boolean
}

/**
 * Reads the presented token's state and, in the same transaction, consumes it and stores its
 * successor if every rule holds: token unused and unexpired, session of that sid not revoked
 * nor expired, same client type (and device, for mobile), user active with the session's
 * credential version, and the key holder (the session's DPoP key, or no key where bearer is
 * allowed). Returns the state as it was before (null: no such token on this shard) and whether
 * this call rotated it.
 */
export async function rotateRefreshToken(
  db: D1Database,
  r: Rotation,
  guard: RotationGuard,
): Promise<{ context: RefreshContext | null; rotated: boolean }> {
  const [read, consumed] = await db.batch<ContextRow>([
    db.prepare(CONTEXT_SQL).bind(r.parentHash),
    db
      .prepare(
        `UPDATE refresh_tokens
            SET used_at = ?2, used_fingerprint = ?3, successor_hash = ?4, successor_sealed = ?5,
                successor_sealed_until = ?6
          WHERE token_hash = ?1 AND used_at IS NULL AND sid = ?7 AND expires_at > ?2
            AND EXISTS (
              SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
               WHERE s.sid = ?7 AND s.revoked_at IS NULL
                 AND s.absolute_expires_at > ?2 AND s.idle_expires_at > ?2
                 AND s.client_type = ?8 AND (s.client_type <> 'mobile' OR s.device_id IS ?9)
                 AND u.status = 'active' AND u.credential_version = s.credential_version
                 AND (s.dpop_jkt = ?10 OR (s.dpop_jkt IS NULL AND ?11 = 1)))`,
      )
      .bind(
        r.parentHash,
        r.now,
        r.fingerprint,
        r.successorHash,
        r.sealed,
        r.sealedUntil,
        r.sid,
        guard.client,
        guard.deviceId,
        guard.proofJkt,
        guard.bearerAllowed ? 1 : 0,
      ),
    // changes() is the row count of the UPDATE just above, in this same transaction.
    db
      .prepare(
        `INSERT INTO refresh_tokens (token_hash, sid, parent_hash, generation, created_at, expires_at)
         SELECT ?1, ?2, ?3, p.generation + 1, ?4, MIN(?5, s.absolute_expires_at)
           FROM refresh_tokens p JOIN sessions s ON s.sid = p.sid
          WHERE p.token_hash = ?3 AND changes() = 1`,
      )
      .bind(r.successorHash, r.sid, r.parentHash, r.now, r.idleLimit),
    db
      .prepare(
        `UPDATE sessions SET last_used_at = ?2, idle_expires_at = MIN(?3, absolute_expires_at),
                last_country = COALESCE(?4, last_country)
          WHERE sid = ?1 AND EXISTS (SELECT 1 FROM refresh_tokens WHERE token_hash = ?5)`,
      )
      .bind(r.sid, r.now, r.idleLimit, r.country, r.successorHash),
  ])
  const row = read?.results[0]
  return {
    context: row === undefined ? null : toContext(row),
    rotated: consumed?.meta.changes === 1,
  }
}
