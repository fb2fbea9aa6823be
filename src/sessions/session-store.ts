// All D1 SQL for sessions and refresh tokens. A rotation is one batch (one transaction) whose
// first statement is the conditional `UPDATE … WHERE used_at IS NULL`: exactly one concurrent
// caller can consume a token, and the successor row exists only if that update won. Nothing
// here decides policy; refresh.ts and logout.ts do.

export type ClientType = 'web' | 'mobile'

export interface Session {
  readonly sid: string
  readonly userId: string
  readonly tenant: string
  readonly clientType: ClientType
  readonly deviceId: string | null
  readonly scope: string
  readonly createdAt: number
  readonly lastUsedAt: number
  readonly absoluteExpiresAt: number
  readonly idleExpiresAt: number
  readonly revokedAt: number | null
  readonly revokedReason: string | null
  readonly createdCountry: string | null
  readonly lastCountry: string | null
  readonly userAgentHash: string | null
}

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
  readonly passwordChangedAt: number
  /** Whether the successor (if any) is still unused: the parent is then the *immediate* parent. */
  readonly successorUnused: boolean
}

interface SessionRow {
  sid: string
  user_id: string
  tenant: string
  client_type: string
  device_id: string | null
  scope: string
  created_at: number
  last_used_at: number
  absolute_expires_at: number
  idle_expires_at: number
  revoked_at: number | null
  revoked_reason: string | null
  created_country: string | null
  last_country: string | null
  user_agent_hash: string | null
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
  password_changed_at: number
  successor_used_at: number | null
}

function toSession(r: SessionRow): Session {
  return {
    sid: r.sid,
    userId: r.user_id,
    tenant: r.tenant,
    clientType: r.client_type as ClientType,
    deviceId: r.device_id,
    scope: r.scope,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    absoluteExpiresAt: r.absolute_expires_at,
    idleExpiresAt: r.idle_expires_at,
    revokedAt: r.revoked_at,
    revokedReason: r.revoked_reason,
    createdCountry: r.created_country,
    lastCountry: r.last_country,
    userAgentHash: r.user_agent_hash,
  }
}

/** Creates a session and its first refresh token in one transaction. */
export async function createSession(
  db: D1Database,
  s: Session,
  tokenHash: string,
  tokenExpiresAt: number,
): Promise<void> {
  await db.batch([
    db
      .prepare(
        `INSERT INTO sessions (sid, user_id, tenant, client_type, device_id, scope, created_at, last_used_at,
           absolute_expires_at, idle_expires_at, created_country, last_country, user_agent_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10, ?10, ?11)`,
      )
      .bind(
        s.sid,
        s.userId,
        s.tenant,
        s.clientType,
        s.deviceId,
        s.scope,
        s.createdAt,
        s.absoluteExpiresAt,
        s.idleExpiresAt,
        s.createdCountry,
        s.userAgentHash,
      ),
    db
      .prepare(
        'INSERT INTO refresh_tokens (token_hash, sid, generation, created_at, expires_at) VALUES (?1, ?2, 0, ?3, ?4)',
      )
      .bind(tokenHash, s.sid, s.createdAt, tokenExpiresAt),
  ])
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
              u.status AS user_status, u.scopes AS user_scopes, u.password_changed_at,
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
    passwordChangedAt: r.password_changed_at,
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

/** Marks a session revoked and wipes its sealed successors; returns false if it already was. */
export async function revokeSessionRow(
  db: D1Database,
  sid: string,
  reason: string,
  now: number,
): Promise<boolean> {
  const [revoked] = await db.batch([
    db
      .prepare(
        'UPDATE sessions SET revoked_at = ?2, revoked_reason = ?3 WHERE sid = ?1 AND revoked_at IS NULL',
      )
      .bind(sid, now, reason),
    db
      .prepare(
        'UPDATE refresh_tokens SET used_at = COALESCE(used_at, ?2), successor_sealed = NULL WHERE sid = ?1',
      )
      .bind(sid, now),
  ])
  return revoked?.meta.changes === 1
}

export async function findSession(db: D1Database, sid: string): Promise<Session | null> {
  const row = await db
    .prepare('SELECT * FROM sessions WHERE sid = ?1')
    .bind(sid)
    .first<SessionRow>()
  return row === null ? null : toSession(row)
}

/** A user's sessions, newest first (admin view). */
export async function listSessions(
  db: D1Database,
  userId: string,
  limit = 100,
): Promise<Session[]> {
  const rows = await db
    .prepare('SELECT * FROM sessions WHERE user_id = ?1 ORDER BY created_at DESC LIMIT ?2')
    .bind(userId, limit)
    .all<SessionRow>()
  return rows.results.map(toSession)
}

/** Ids of a user's unrevoked sessions (password change, disable). */
export async function activeSessionIds(db: D1Database, userId: string): Promise<string[]> {
  const rows = await db
    .prepare('SELECT sid FROM sessions WHERE user_id = ?1 AND revoked_at IS NULL')
    .bind(userId)
    .all<{ sid: string }>()
  return rows.results.map((r) => r.sid)
}

/**
 * Deletes, in bounded batches, refresh tokens past their expiry, seals past their window, and
 * sessions past their absolute expiry. Returns the number of rows removed (cron).
 */
export async function deleteExpired(db: D1Database, now: number, batchSize = 500): Promise<number> {
  const results = await db.batch([
    db
      .prepare(
        'UPDATE refresh_tokens SET successor_sealed = NULL WHERE successor_sealed IS NOT NULL AND successor_sealed_until < ?1',
      )
      .bind(now),
    db
      .prepare(
        `DELETE FROM refresh_tokens WHERE token_hash IN (
           SELECT token_hash FROM refresh_tokens WHERE expires_at < ?1 LIMIT ?2)`,
      )
      .bind(now, batchSize),
    db
      .prepare(
        `DELETE FROM refresh_tokens WHERE sid IN (
           SELECT sid FROM sessions WHERE absolute_expires_at < ?1 LIMIT ?2)`,
      )
      .bind(now, batchSize),
    db
      .prepare(
        `DELETE FROM sessions WHERE sid IN (
           SELECT sid FROM sessions WHERE absolute_expires_at < ?1 LIMIT ?2)`,
      )
      .bind(now, batchSize),
  ])
  return results.slice(1).reduce((n, r) => n + (r.meta.changes ?? 0), 0)
}
