// All D1 SQL for the sessions table (and the session-wide statements that touch its refresh
// tokens: creation with the first token, revocation, expiry cleanup). Rotation lives in
// refresh-store.ts. Nothing here decides policy; login.ts, refresh.ts and logout.ts do.

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
  /** The user's credential version its login verified; refresh needs it to be current. */
  readonly credentialVersion: number
  /** The DPoP key thumbprint the session is bound to (RFC 9449), or null for a bearer session. */
  readonly dpopJkt: string | null
  /** How the user authenticated (RFC 8176 `amr`): set at login, replaced by a step-up. */
  readonly amr: readonly string[]
  /** When the user last actively authenticated (`auth_time`), epoch seconds. */
  readonly authTime: number
}

export interface SessionRow {
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
  credential_version: number
  dpop_jkt: string | null
  amr: string
  auth_time: number | null
}

export function toSession(r: SessionRow): Session {
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
    credentialVersion: r.credential_version,
    dpopJkt: r.dpop_jkt,
    amr: r.amr === '' ? [] : r.amr.split(' '),
    authTime: r.auth_time ?? r.created_at,
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
           absolute_expires_at, idle_expires_at, created_country, last_country, user_agent_hash,
           credential_version, dpop_jkt, amr, auth_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10, ?10, ?11, ?12, ?13, ?14, ?15)`,
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
        s.credentialVersion,
        s.dpopJkt,
        s.amr.join(' '),
        s.authTime,
      ),
    db
      .prepare(
        'INSERT INTO refresh_tokens (token_hash, sid, generation, created_at, expires_at) VALUES (?1, ?2, 0, ?3, ?4)',
      )
      .bind(tokenHash, s.sid, s.createdAt, tokenExpiresAt),
  ])
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

/**
 * Records a step-up on a live session: later refreshes carry the new amr and auth_time. False
 * when the session is gone or revoked.
 */
export async function recordStepUp(
  db: D1Database,
  sid: string,
  amr: readonly string[],
  authTime: number,
): Promise<boolean> {
  const result = await db
    .prepare('UPDATE sessions SET amr = ?2, auth_time = ?3 WHERE sid = ?1 AND revoked_at IS NULL')
    .bind(sid, amr.join(' '), authTime)
    .run()
  return result.meta.changes === 1
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

/** Rows one cleanup statement deletes at most: a short hold of the shard's single writer. */
const CLEANUP_BATCH = 1000
/**
 * Cleanup batches per shard per cron run (every 5 min): up to 100 000 expired refresh tokens,
 * ~330 rows/s, above the rotation rate a shard is planned for (docs/CAPACITY.md).
 */
const CLEANUP_BATCHES_PER_RUN = 100

/**
 * Deletes refresh tokens past their expiry, seals past their window, and sessions past their
 * absolute expiry, in batches of `batchSize` until none are left or `maxBatches` ran. Returns
 * the number of rows removed (cron).
 */
export async function deleteExpired(
  db: D1Database,
  now: number,
  batchSize = CLEANUP_BATCH,
  maxBatches = CLEANUP_BATCHES_PER_RUN,
): Promise<number> {
  await db
    .prepare(
      'UPDATE refresh_tokens SET successor_sealed = NULL WHERE successor_sealed IS NOT NULL AND successor_sealed_until < ?1',
    )
    .bind(now)
    .run()
  let removed = 0
  for (let i = 0; i < maxBatches; i++) {
    const results = await db.batch([
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
    const counts = results.map((r) => r.meta.changes ?? 0)
    removed += counts.reduce((n, c) => n + c, 0)
    // Done when neither selection filled its batch: nothing expired is left behind.
    if ((counts[0] ?? 0) < batchSize && (counts[2] ?? 0) < batchSize) break
  }
  return removed
}
