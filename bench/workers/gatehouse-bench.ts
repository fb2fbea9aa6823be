// Bench-only entry (never deployed): Gatehouse's own Worker (src/index.ts, unchanged) plus two
// subclasses of RevocationShard. One adds a bulk-fill method, so the growth benchmark can put
// 1 000 000 revoked jtis into a subject's shard in seconds, and a loop over the inherited check()
// that times its SQL work without the RPC around it; the other counts the check() calls it
// answers (the idle-socket benchmark). check() and every other method are inherited as they are;
// the benchmark binds REVOCATIONS to one of them only in its scenario.

import {
  RevocationShard,
  type RevocationQuery,
  type RevocationVerdict,
} from '../../src/revocation/revocation-shard'

export * from '../../src/index'
export { default } from '../../src/index'

/** Rows per INSERT statement: bounds one statement's memory while filling. */
const FILL_CHUNK_ROWS = 100_000

export class BenchRevocationShard extends RevocationShard {
  /**
   * Inserts `count` revoked jtis named `${prefix}${i}`, live until `expiresAt` (epoch seconds),
   * without scheduling the cleanup alarm. Returns the revoked_jti row count afterwards.
   */
  benchFill(prefix: string, count: number, expiresAt: number): number {
    const sql = this.ctx.storage.sql
    for (let start = 0; start < count; start += FILL_CHUNK_ROWS) {
      const end = Math.min(count, start + FILL_CHUNK_ROWS)
      sql.exec(
        `WITH RECURSIVE seq(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?2)
         INSERT OR IGNORE INTO revoked_jti (jti, expires_at) SELECT ?3 || i, ?4 FROM seq`,
        start,
        end,
        prefix,
        expiresAt,
      )
    }
    return sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM revoked_jti').one().n
  }

  /** Bench only: runs check() `n` times for never-revoked jtis; returns how many were live. */
  async benchCheck(n: number): Promise<number> {
    const now = Math.floor(Date.now() / 1000)
    let live = 0
    for (let i = 0; i < n; i++) {
      const jti = `miss-${i}-${crypto.randomUUID()}`
      if (!(await this.check({ jti, sid: 'bench-session', iat: now })).revoked) live++
    }
    return live
  }
}

export class CountingRevocationShard extends RevocationShard {
  /**
   * check() calls answered since this instance started; in memory (a shard asked every few
   * seconds is not evicted during a run).
   */
  private checkCalls = 0

  override check(query: RevocationQuery): RevocationVerdict {
    this.checkCalls++
    return super.check(query)
  }

  /** Bench only: how many check() calls this shard has answered. */
  benchCheckCalls(): number {
    return this.checkCalls
  }
}
