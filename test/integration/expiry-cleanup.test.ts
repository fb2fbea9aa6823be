// The cron's cleanup of expired rows, on the real local D1 shards: it drains a backlog larger
// than one batch (a shard gets more expired tokens per 5 minutes than one batch deletes, see
// docs/CAPACITY.md), stops at its per-run limit, wipes expired seals, and never touches a live row.

import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { runCron } from '../../src/http/cron'
import { createSession, deleteExpired, type Session } from '../../src/sessions/session-store'
import { newSessionId } from '../../src/storage/placement'
import { authConfig } from '../helpers/auth'
import { testEnv } from '../helpers/gateway'

const NOW = 2_500_000_000

function session(sid: string, absoluteExpiresAt: number): Session {
  return {
    sid,
    userId: 'usr_000_cleanup',
    tenant: 'acme',
    clientType: 'mobile',
    deviceId: 'd',
    scope: '',
    createdAt: NOW - 100,
    lastUsedAt: NOW - 100,
    absoluteExpiresAt,
    idleExpiresAt: absoluteExpiresAt,
    revokedAt: null,
    revokedReason: null,
    createdCountry: null,
    lastCountry: null,
    userAgentHash: null,
    credentialVersion: 0,
    dpopJkt: null,
    amr: ['pwd'],
    authTime: 0,
  }
}

/** The user the cleanup sessions belong to (sessions reference users), on `db`. */
async function ensureUser(db: D1Database): Promise<void> {
  await db
    .prepare(
      `INSERT OR IGNORE INTO users (id, tenant, username, password_scheme, password_params,
         password_hash, password_changed_at, created_at)
       VALUES ('usr_000_cleanup', 'acme', 'cleanup', 'argon2id', '{}', 'x', 0, 0)`,
    )
    .run()
}

/** A live session holding `expired` used tokens past their expiry, and one live token. */
async function seed(db: D1Database, bucket: number, expired: number): Promise<string> {
  const sid = newSessionId(bucket)
  await ensureUser(db)
  await createSession(db, session(sid, NOW + 3600), `live-${sid}`, NOW + 3600)
  const rows = Array.from({ length: expired }, (_, i) =>
    db
      .prepare(
        `INSERT INTO refresh_tokens (token_hash, sid, generation, created_at, expires_at, used_at,
           successor_sealed, successor_sealed_until)
         VALUES (?1, ?2, ?3, ?4, ?5, ?4, 'sealed', ?4)`,
      )
      .bind(`old-${sid}-${i}`, sid, i + 1, NOW - 200, NOW - 1),
  )
  for (let i = 0; i < rows.length; i += 500) await db.batch(rows.slice(i, i + 500))
  return sid
}

async function count(db: D1Database, sid: string): Promise<number> {
  const row = await db
    .prepare('SELECT COUNT(*) AS n FROM refresh_tokens WHERE sid = ?1')
    .bind(sid)
    .first<{ n: number }>()
  return row?.n ?? -1
}

describe('expired-row cleanup', () => {
  it('drains a backlog of several batches in one run and keeps the live rows', async () => {
    const db = env.SESSIONS_0
    const sid = await seed(db, 1, 2_500)
    const gone = newSessionId(2)
    await createSession(db, session(gone, NOW - 1), `dead-${gone}`, NOW - 1)
    const removed = await deleteExpired(db, NOW, 1000, 10)
    expect(removed).toBeGreaterThanOrEqual(2_500 + 2) // the tokens, the dead session and its token
    expect(await count(db, sid)).toBe(1)
    expect(await count(db, gone)).toBe(0)
    const live = await db
      .prepare('SELECT COUNT(*) AS n FROM sessions WHERE sid IN (?1, ?2)')
      .bind(sid, gone)
      .first<{ n: number }>()
    expect(live?.n).toBe(1)
  })

  it('stops at its per-run limit and finishes on the next run', async () => {
    const db = env.SESSIONS_1
    const sid = await seed(db, 600, 1_200)
    expect(await deleteExpired(db, NOW, 500, 2)).toBe(1_000)
    expect(await count(db, sid)).toBe(201)
    await deleteExpired(db, NOW, 500, 2)
    expect(await count(db, sid)).toBe(1)
  })

  it('wipes seals past their window', async () => {
    const db = env.SESSIONS_0
    const sid = newSessionId(3)
    await ensureUser(db)
    await createSession(db, session(sid, NOW + 3600), `seal-${sid}`, NOW + 3600)
    await db
      .prepare(
        'UPDATE refresh_tokens SET successor_sealed = ?2, successor_sealed_until = ?3 WHERE sid = ?1',
      )
      .bind(sid, 'sealed', NOW - 1)
      .run()
    await deleteExpired(db, NOW)
    const row = await db
      .prepare('SELECT successor_sealed FROM refresh_tokens WHERE sid = ?1')
      .bind(sid)
      .first<{ successor_sealed: string | null }>()
    expect(row?.successor_sealed).toBeNull()
  })

  it('runs on every session shard from the cron', async () => {
    const sids = [await seed(env.SESSIONS_0, 4, 3), await seed(env.SESSIONS_1, 700, 3)]
    // The cron uses the real clock: these rows expired long before it.
    await env.SESSIONS_0.prepare(
      'UPDATE refresh_tokens SET expires_at = 1 WHERE sid = ?1 AND generation > 0',
    )
      .bind(sids[0])
      .run()
    await env.SESSIONS_1.prepare(
      'UPDATE refresh_tokens SET expires_at = 1 WHERE sid = ?1 AND generation > 0',
    )
      .bind(sids[1])
      .run()
    await env.SESSIONS_0.prepare(
      'UPDATE refresh_tokens SET expires_at = ?2 WHERE sid = ?1 AND generation = 0',
    )
      .bind(sids[0], 4_000_000_000)
      .run()
    await env.SESSIONS_1.prepare(
      'UPDATE refresh_tokens SET expires_at = ?2 WHERE sid = ?1 AND generation = 0',
    )
      .bind(sids[1], 4_000_000_000)
      .run()
    await env.SESSIONS_0.prepare('UPDATE sessions SET absolute_expires_at = ?2 WHERE sid = ?1')
      .bind(sids[0], 4_000_000_000)
      .run()
    await env.SESSIONS_1.prepare('UPDATE sessions SET absolute_expires_at = ?2 WHERE sid = ?1')
      .bind(sids[1], 4_000_000_000)
      .run()
    await runCron(testEnv(authConfig()))
    expect(await count(env.SESSIONS_0, sids[0] as string)).toBe(1)
    expect(await count(env.SESSIONS_1, sids[1] as string)).toBe(1)
  })

  it('deletes audit events past their retention from the cron, and keeps the rest', async () => {
    const now = Math.floor(Date.now() / 1000)
    const user = `usr_000_audit_${crypto.randomUUID().slice(0, 8)}`
    const insert = (at: number) =>
      env.AUDIT_DB.prepare(
        "INSERT INTO audit_events (at, type, user_id, detail) VALUES (?1, 'login_succeeded', ?2, '{}')",
      ).bind(at, user)
    await env.AUDIT_DB.batch([insert(now - 91 * 86_400), insert(now - 89 * 86_400), insert(now)])
    await runCron(testEnv(authConfig())) // the default retention: 90 days
    const rows = await env.AUDIT_DB.prepare('SELECT at FROM audit_events WHERE user_id = ?1')
      .bind(user)
      .all<{ at: number }>()
    expect(rows.results.map((r) => r.at).sort()).toEqual([now - 89 * 86_400, now].sort())
  })
})
