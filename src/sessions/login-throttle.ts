// Login throttling in D1, consulted before any password hash runs: one counter per tenant +
// username and one per client IP. Past a threshold each further failure blocks the key for a
// doubling delay capped at MAX_BLOCK_SECONDS, and counts reset after a quiet window, so an
// attacker is slowed to a crawl but the real user is never locked out for good. Keys hold a
// hash of the username, not the username.

const WINDOW_SECONDS = 15 * 60
const MAX_BLOCK_SECONDS = 15 * 60
/** The first block after the free attempts; each further failure doubles it. */
const BASE_BLOCK_SECONDS = 30
export const USER_FAILURES_ALLOWED = 5
export const IP_FAILURES_ALLOWED = 20

export interface ThrottleKeys {
  readonly user: string
  readonly ip: string | null
}

const encoder = new TextEncoder()

/** The throttle keys of a login attempt. */
export async function throttleKeys(
  tenant: string,
  normalizedUsername: string,
  ip: string | null,
): Promise<ThrottleKeys> {
  const digest = await crypto.subtle.digest(
    'SHA-256',
    encoder.encode(`${tenant}\n${normalizedUsername}`),
  )
  const hex = [...new Uint8Array(digest).subarray(0, 16)]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('')
  return { user: `u:${hex}`, ip: ip === null ? null : `ip:${ip}` }
}

/** Seconds until the attempt may proceed; 0 when it may proceed now. */
export async function throttleDelay(
  db: D1Database,
  keys: ThrottleKeys,
  now: number,
): Promise<number> {
  const rows = await db
    .prepare('SELECT blocked_until FROM login_throttle WHERE key IN (?1, ?2)')
    .bind(keys.user, keys.ip ?? keys.user)
    .all<{ blocked_until: number }>()
  const until = Math.max(0, ...rows.results.map((r) => r.blocked_until))
  return until > now ? until - now : 0
}

/** Counts a failed attempt against both keys and blocks those over their threshold. */
export async function recordLoginFailure(
  db: D1Database,
  keys: ThrottleKeys,
  now: number,
): Promise<void> {
  const entries: Array<[string, number]> = [[keys.user, USER_FAILURES_ALLOWED]]
  if (keys.ip !== null) entries.push([keys.ip, IP_FAILURES_ALLOWED])
  for (const [key, allowed] of entries) {
    const row = await db
      .prepare(
        `INSERT INTO login_throttle (key, failures, window_started_at) VALUES (?1, 1, ?2)
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE WHEN window_started_at <= ?2 - ?3 THEN 1 ELSE failures + 1 END,
           window_started_at = CASE WHEN window_started_at <= ?2 - ?3 THEN ?2 ELSE window_started_at END
         RETURNING failures`,
      )
      .bind(key, now, WINDOW_SECONDS)
      .first<{ failures: number }>()
    const failures = row?.failures ?? 0
    if (failures > allowed) {
      const block = Math.min(
        MAX_BLOCK_SECONDS,
        BASE_BLOCK_SECONDS * 2 ** Math.min(20, failures - allowed - 1),
      )
      await db
        .prepare('UPDATE login_throttle SET blocked_until = ?2 WHERE key = ?1')
        .bind(key, now + block)
        .run()
    }
  }
}

/** A successful login clears the user's counter (not the IP's: one success does not vouch for an IP). */
export async function recordLoginSuccess(db: D1Database, keys: ThrottleKeys): Promise<void> {
  await db.prepare('DELETE FROM login_throttle WHERE key = ?1').bind(keys.user).run()
}

/** Deletes counters idle for longer than the window (cron). */
export async function pruneThrottle(db: D1Database, now: number): Promise<void> {
  await db
    .prepare('DELETE FROM login_throttle WHERE window_started_at <= ?1 AND blocked_until <= ?2')
    .bind(now - WINDOW_SECONDS, now)
    .run()
}
