// RevocationShard: one SQLite-backed Durable Object per (issuer, tenant, subject), holding what
// kills that subject's tokens before they expire — revoked jtis, revoked sessions (sid) and a
// cut-off ("every token issued before T is dead"). A Durable Object is strongly consistent, so a
// logout is seen by the very next check. Entries live only as long as the tokens they kill,
// and the alarm deletes them. Keyed by identifiers, never by token bytes.

import { DurableObject } from 'cloudflare:workers'

export interface RevocationQuery {
  readonly jti: string | null
  readonly sid: string | null
  /** The token's iat (NumericDate seconds); null when the token has none. */
  readonly iat: number | null
}

export interface RevocationVerdict {
  readonly revoked: boolean
  /** What revoked it: a jti entry, a session entry, or the subject's cut-off. */
  readonly by: 'jti' | 'sid' | 'subject' | null
}

interface VerdictRow {
  jti_exp: number | null
  sid_exp: number | null
  cutoff_at: number | null
  cutoff_exp: number | null
  [column: string]: SqlStorageValue
}

interface ExpiryRow {
  next: number | null
  [column: string]: SqlStorageValue
}

export class RevocationShard extends DurableObject<unknown> {
  private readonly sql: SqlStorage

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    void ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(`
        CREATE TABLE IF NOT EXISTS revoked_jti (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS revoked_sid (sid TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, reason TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS subject_cutoff (
          id INTEGER PRIMARY KEY CHECK (id = 1), cutoff_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS seen_proof (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS rate_window (
          id INTEGER PRIMARY KEY CHECK (id = 1), started_at INTEGER NOT NULL,
          expires_at INTEGER NOT NULL, hits INTEGER NOT NULL);
      `)
    })
  }

  /** Answers "is this token revoked?" with one query; expired entries never match. */
  check(query: RevocationQuery): RevocationVerdict {
    const now = nowSeconds()
    const row = this.sql
      .exec<VerdictRow>(
        `SELECT (SELECT expires_at FROM revoked_jti WHERE jti = ?) AS jti_exp,
                (SELECT expires_at FROM revoked_sid WHERE sid = ?) AS sid_exp,
                (SELECT cutoff_at FROM subject_cutoff WHERE id = 1) AS cutoff_at,
                (SELECT expires_at FROM subject_cutoff WHERE id = 1) AS cutoff_exp`,
        query.jti,
        query.sid,
      )
      .one()
    if (row.jti_exp !== null && row.jti_exp > now) return { revoked: true, by: 'jti' }
    if (row.sid_exp !== null && row.sid_exp > now) return { revoked: true, by: 'sid' }
    // A token without iat cannot prove it was issued after the cut-off: it is dead too.
    if (
      row.cutoff_at !== null &&
      row.cutoff_exp !== null &&
      row.cutoff_exp > now &&
      (query.iat === null || query.iat <= row.cutoff_at)
    ) {
      return { revoked: true, by: 'subject' }
    }
    return { revoked: false, by: null }
  }

  /** Revokes one access token until `expiresAt` (its exp, seconds). */
  async revokeJti(jti: string, expiresAt: number): Promise<void> {
    this.sql.exec(
      'INSERT INTO revoked_jti (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)',
      jti,
      expiresAt,
    )
    await this.scheduleCleanup(expiresAt)
  }

  /** Revokes every token of a session until `expiresAt` (seconds; the longest token lifetime). */
  async revokeSession(sid: string, expiresAt: number, reason: string): Promise<void> {
    this.sql.exec(
      'INSERT INTO revoked_sid (sid, expires_at, reason) VALUES (?, ?, ?) ON CONFLICT (sid) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)',
      sid,
      expiresAt,
      reason,
    )
    await this.scheduleCleanup(expiresAt)
  }

  /** Kills every token of the subject issued at or before `cutoffAt` (seconds). */
  async revokeSubjectBefore(cutoffAt: number, expiresAt: number): Promise<void> {
    this.sql.exec(
      `INSERT INTO subject_cutoff (id, cutoff_at, expires_at) VALUES (1, ?, ?)
       ON CONFLICT (id) DO UPDATE SET cutoff_at = MAX(cutoff_at, excluded.cutoff_at), expires_at = MAX(expires_at, excluded.expires_at)`,
      cutoffAt,
      expiresAt,
    )
    await this.scheduleCleanup(expiresAt)
  }

  /**
   * Records a DPoP proof's jti as used until `expiresAt` (seconds); true when this is its first
   * use. An instance named for a proof key (`proofShardName`) holds only these.
   */
  async claimProof(jti: string, expiresAt: number): Promise<boolean> {
    const inserted = this.sql.exec(
      `INSERT INTO seen_proof (jti, expires_at) VALUES (?, ?)
       ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at WHERE expires_at <= ?`,
      jti,
      expiresAt,
      nowSeconds(),
    ).rowsWritten
    if (inserted > 0) await this.scheduleCleanup(expiresAt)
    return inserted > 0
  }

  /**
   * Counts one request in a fixed window of `periodSeconds` (an instance named for a rate-limit
   * key holds only this). Returns whether it is within `limit`, how many remain and when the
   * window ends (epoch seconds). A refused request is not counted.
   */
  async hit(
    limit: number,
    periodSeconds: number,
  ): Promise<{ allowed: boolean; remaining: number; resetAt: number }> {
    const now = nowSeconds()
    const windowStart = now - (now % periodSeconds)
    const row = this.sql
      .exec<{
        started_at: number
        hits: number
      }>('SELECT started_at, hits FROM rate_window WHERE id = 1')
      .toArray()[0]
    const hits = row === undefined || row.started_at !== windowStart ? 0 : row.hits
    const resetAt = windowStart + periodSeconds
    if (hits >= limit) return { allowed: false, remaining: 0, resetAt }
    this.sql.exec(
      `INSERT INTO rate_window (id, started_at, expires_at, hits) VALUES (1, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at,
         expires_at = excluded.expires_at, hits = excluded.hits`,
      windowStart,
      resetAt,
      hits + 1,
    )
    // The alarm deletes the window after it ends: an idle key's counter keeps nothing.
    if (hits === 0) await this.scheduleCleanup(resetAt)
    return { allowed: true, remaining: limit - hits - 1, resetAt }
  }

  /** Counts live entries (admin views and tests). */
  size(): { jti: number; sid: number; cutoff: number } {
    const count = (table: string) =>
      this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).one().n
    return { jti: count('revoked_jti'), sid: count('revoked_sid'), cutoff: count('subject_cutoff') }
  }

  async alarm(): Promise<void> {
    const now = nowSeconds()
    this.sql.exec('DELETE FROM revoked_jti WHERE expires_at <= ?', now)
    this.sql.exec('DELETE FROM revoked_sid WHERE expires_at <= ?', now)
    this.sql.exec('DELETE FROM subject_cutoff WHERE expires_at <= ?', now)
    this.sql.exec('DELETE FROM seen_proof WHERE expires_at <= ?', now)
    this.sql.exec('DELETE FROM rate_window WHERE expires_at <= ?', now)
    const next = this.sql
      .exec<ExpiryRow>(
        `SELECT MIN(e) AS next FROM (
           SELECT MIN(expires_at) AS e FROM revoked_jti UNION ALL
           SELECT MIN(expires_at) FROM revoked_sid UNION ALL
           SELECT MIN(expires_at) FROM subject_cutoff UNION ALL
           SELECT MIN(expires_at) FROM seen_proof UNION ALL
           SELECT MIN(expires_at) FROM rate_window)`,
      )
      .one().next
    if (next !== null) await this.ctx.storage.setAlarm(next * 1000)
  }

  private async scheduleCleanup(expiresAt: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm()
    if (current === null || current > expiresAt * 1000)
      await this.ctx.storage.setAlarm(expiresAt * 1000)
  }
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000)
}

/** idFromName hashes the name each call; ids are plain values, so an isolate keeps recent ones. */
const ID_CACHE_MAX = 10_000

export type RevocationShardStub = DurableObjectStub<RevocationShard>

/** Finds the shard of one subject; built once per isolate by the wiring. */
export type ShardLocator = (issuer: string, tenant: string, subject: string) => RevocationShardStub

/** Finds the shard that remembers the proofs of one DPoP key (by its thumbprint). */
export type ProofShardLocator = (jkt: string) => RevocationShardStub

/** A locator over one namespace, with its own bounded cache of shard ids. */
export function createShardLocator(
  namespace: DurableObjectNamespace<RevocationShard>,
): ShardLocator {
  const locate = namedShards(namespace)
  // The name keeps issuers and tenants apart.
  return (issuer, tenant, subject) => locate(JSON.stringify([issuer, tenant, subject]))
}

/** Finds the shard that counts one rate-limit key of one route. */
export type RateShardLocator = (route: string, key: string) => RevocationShardStub

/** Rate-limit counters live in the same namespace under names no subject can have. */
export function createRateShardLocator(
  namespace: DurableObjectNamespace<RevocationShard>,
): RateShardLocator {
  const locate = namedShards(namespace)
  return (route, key) => locate(JSON.stringify(['rate', route, key]))
}

/** Proof-replay shards live in the same namespace under names no subject can have. */
export function createProofShardLocator(
  namespace: DurableObjectNamespace<RevocationShard>,
): ProofShardLocator {
  const locate = namedShards(namespace)
  return (jkt) => locate(JSON.stringify(['dpop', jkt]))
}

function namedShards(namespace: DurableObjectNamespace<RevocationShard>) {
  const ids = new Map<string, DurableObjectId>()
  return (name: string): RevocationShardStub => {
    let id = ids.get(name)
    if (id === undefined) {
      if (ids.size >= ID_CACHE_MAX) ids.clear()
      id = namespace.idFromName(name)
      ids.set(name, id)
    }
    return namespace.get(id)
  }
}
