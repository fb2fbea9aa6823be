// All D1 SQL for a user's second factors and recovery codes, on the user's shard. Every state
// change a factor's single use depends on is one conditional statement: a TOTP time step is
// claimed only if it is newer than the last one, a passkey's counter moves only from the value
// that was read, a recovery code is spent only if unspent. Nothing here decides policy.

export type FactorType = 'totp' | 'passkey'

export interface Factor {
  readonly id: string
  readonly userId: string
  readonly tenant: string
  readonly type: FactorType
  readonly status: 'pending' | 'active'
  readonly label: string
  readonly createdAt: number
  readonly lastUsedAt: number | null
  readonly totpSecretSealed: string | null
  readonly totpLastStep: number | null
  readonly credentialId: string | null
  readonly publicKey: string | null
  readonly signCount: number
  readonly transports: readonly string[]
  /** A synced passkey (amr swk) rather than a device-bound one (hwk). */
  readonly backedUp: boolean
}

interface FactorRow {
  id: string
  user_id: string
  tenant: string
  type: string
  status: string
  label: string
  created_at: number
  last_used_at: number | null
  totp_secret_sealed: string | null
  totp_last_step: number | null
  credential_id: string | null
  public_key: string | null
  sign_count: number | null
  transports: string | null
  backed_up: number | null
}

function toFactor(r: FactorRow): Factor {
  return {
    id: r.id,
    userId: r.user_id,
    tenant: r.tenant,
    type: r.type as FactorType,
    status: r.status === 'active' ? 'active' : 'pending',
    label: r.label,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    totpSecretSealed: r.totp_secret_sealed,
    totpLastStep: r.totp_last_step,
    credentialId: r.credential_id,
    publicKey: r.public_key,
    signCount: r.sign_count ?? 0,
    transports: r.transports === null || r.transports === '' ? [] : r.transports.split(' '),
    backedUp: r.backed_up === 1,
  }
}

/** At most this many factors per user: enrolment beyond it is refused. */
export const MAX_FACTORS_PER_USER = 20

/** A new factor id: `fac_` and 128 random bits in hex. */
export function newFactorId(): string {
  const hex = [...crypto.getRandomValues(new Uint8Array(16))]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('')
  return `fac_${hex}`
}

/** Every factor of a user, pending ones included, oldest first. */
export async function listFactors(db: D1Database, userId: string): Promise<Factor[]> {
  const rows = await db
    .prepare('SELECT * FROM factors WHERE user_id = ?1 ORDER BY created_at, id')
    .bind(userId)
    .all<FactorRow>()
  return rows.results.map(toFactor)
}

/** A user's active factors and unspent recovery codes, in one round trip. */
export async function factorSummary(
  db: D1Database,
  userId: string,
): Promise<{ factors: Factor[]; recoveryCodes: number }> {
  const [factors, codes] = await db.batch<FactorRow | { n: number }>([
    db
      .prepare(`SELECT * FROM factors WHERE user_id = ?1 AND status = 'active' ORDER BY created_at`)
      .bind(userId),
    db
      .prepare('SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ?1 AND used_at IS NULL')
      .bind(userId),
  ])
  return {
    factors: ((factors?.results ?? []) as FactorRow[]).map(toFactor),
    recoveryCodes: ((codes?.results ?? [])[0] as { n: number } | undefined)?.n ?? 0,
  }
}

export interface NewTotp {
  readonly id: string
  readonly userId: string
  readonly tenant: string
  readonly label: string
  readonly sealedSecret: string
}

/** Stores a TOTP factor awaiting its first code. */
export async function insertPendingTotp(db: D1Database, f: NewTotp, now: number): Promise<void> {
  await db
    .prepare(
      `INSERT INTO factors (id, user_id, tenant, type, status, label, created_at, totp_secret_sealed)
       VALUES (?1, ?2, ?3, 'totp', 'pending', ?4, ?5, ?6)`,
    )
    .bind(f.id, f.userId, f.tenant, f.label, now, f.sealedSecret)
    .run()
}

/**
 * Claims a TOTP time step: true only if `step` is newer than every step claimed before (each
 * code works once, even across isolates). Activates a pending factor created after
 * `pendingSince`; an active one stays active.
 */
export async function claimTotpStep(
  db: D1Database,
  factorId: string,
  userId: string,
  step: number,
  now: number,
  pendingSince: number,
): Promise<boolean> {
  const result = await db
    .prepare(
      `UPDATE factors SET totp_last_step = ?3, last_used_at = ?4, status = 'active'
       WHERE id = ?1 AND user_id = ?2 AND type = 'totp'
         AND (totp_last_step IS NULL OR totp_last_step < ?3)
         AND (status = 'active' OR created_at >= ?5)`,
    )
    .bind(factorId, userId, step, now, pendingSince)
    .run()
  return result.meta.changes === 1
}

export interface NewPasskey {
  readonly id: string
  readonly userId: string
  readonly tenant: string
  readonly label: string
  readonly credentialId: string
  readonly publicKey: string
  readonly signCount: number
  readonly transports: readonly string[]
  readonly backedUp: boolean
}

/** Stores an active passkey; false when the credential is registered already (to anyone). */
export async function insertPasskey(db: D1Database, p: NewPasskey, now: number): Promise<boolean> {
  const result = await db
    .prepare(
      `INSERT INTO factors (id, user_id, tenant, type, status, label, created_at, credential_id,
         public_key, sign_count, transports, backed_up)
       VALUES (?1, ?2, ?3, 'passkey', 'active', ?4, ?5, ?6, ?7, ?8, ?9, ?10)
       ON CONFLICT (credential_id) DO NOTHING`,
    )
    .bind(
      p.id,
      p.userId,
      p.tenant,
      p.label,
      now,
      p.credentialId,
      p.publicKey,
      p.signCount,
      p.transports.join(' '),
      p.backedUp ? 1 : 0,
    )
    .run()
  return result.meta.changes === 1
}

/** A user's active passkey by credential id, or null. */
export async function findPasskey(
  db: D1Database,
  userId: string,
  credentialId: string,
): Promise<Factor | null> {
  const row = await db
    .prepare(
      `SELECT * FROM factors WHERE credential_id = ?1 AND user_id = ?2
         AND type = 'passkey' AND status = 'active'`,
    )
    .bind(credentialId, userId)
    .first<FactorRow>()
  return row === null ? null : toFactor(row)
}

/**
 * Records a passkey use: the counter moves from the value read to the new one. False when
 * another use moved it first (two assertions raced: the loser is refused).
 */
export async function recordPasskeyUse(
  db: D1Database,
  factorId: string,
  readCount: number,
  newCount: number,
  backedUp: boolean,
  now: number,
): Promise<boolean> {
  const result = await db
    .prepare(
      `UPDATE factors SET sign_count = ?3, last_used_at = ?4, backed_up = ?5
       WHERE id = ?1 AND sign_count = ?2`,
    )
    .bind(factorId, readCount, newCount, now, backedUp ? 1 : 0)
    .run()
  return result.meta.changes === 1
}

/** Removes one of a user's factors; false when the user has no such factor. */
export async function deleteFactor(
  db: D1Database,
  userId: string,
  factorId: string,
): Promise<boolean> {
  const result = await db
    .prepare('DELETE FROM factors WHERE id = ?1 AND user_id = ?2')
    .bind(factorId, userId)
    .run()
  return result.meta.changes === 1
}

/** Removes every factor and recovery code of a user (admin reset); returns the factors removed. */
export async function deleteAllFactors(db: D1Database, userId: string): Promise<number> {
  const [factors] = await db.batch([
    db.prepare('DELETE FROM factors WHERE user_id = ?1').bind(userId),
    db.prepare('DELETE FROM recovery_codes WHERE user_id = ?1').bind(userId),
  ])
  return factors?.meta.changes ?? 0
}

/** Replaces a user's recovery codes with a new set (hashes only), in one transaction. */
export async function replaceRecoveryCodes(
  db: D1Database,
  userId: string,
  hashes: readonly string[],
  now: number,
): Promise<void> {
  await db.batch([
    db.prepare('DELETE FROM recovery_codes WHERE user_id = ?1').bind(userId),
    ...hashes.map((hash) =>
      db
        .prepare('INSERT INTO recovery_codes (code_hash, user_id, created_at) VALUES (?1, ?2, ?3)')
        .bind(hash, userId, now),
    ),
  ])
}

/** Spends a recovery code: true once, for an unspent code of this user. */
export async function spendRecoveryCode(
  db: D1Database,
  userId: string,
  hash: string,
  now: number,
): Promise<boolean> {
  const result = await db
    .prepare(
      `UPDATE recovery_codes SET used_at = ?3
       WHERE code_hash = ?1 AND user_id = ?2 AND used_at IS NULL`,
    )
    .bind(hash, userId, now)
    .run()
  return result.meta.changes === 1
}

/** Deletes TOTP enrolments never confirmed before `before` (cron). */
export async function deleteStalePendingFactors(db: D1Database, before: number): Promise<number> {
  const result = await db
    .prepare(`DELETE FROM factors WHERE status = 'pending' AND created_at < ?1`)
    .bind(before)
    .run()
  return result.meta.changes ?? 0
}
