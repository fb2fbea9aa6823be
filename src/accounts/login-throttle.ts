// Login throttling in D1, decided before any password hash runs: one counter per tenant +
// username and one per client IP. Every attempt is *reserved* up front with one atomic
// UPSERT … RETURNING per key, so a burst of concurrent guesses cannot all slip past the check
// (a check-then-record design lets a burst of N through); a successful login gives its
// reservation back. Past the free attempts each further attempt blocks the key for a doubling
// delay capped at MAX_BLOCK_SECONDS, and counts reset after a quiet window: an attacker is slowed
// to a crawl, the real user is never locked out for longer than the cap after the attack stops.
// Keys hold a hash of the username, not the username.

const WINDOW_SECONDS = 15 * 60
const MAX_BLOCK_SECONDS = 15 * 60
/** The first block after the free attempts; each further attempt doubles it. */
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

/**
 * Reserves one attempt against every key. Returns 0 when the attempt may proceed to the password
 * check, else the seconds until it may be tried again. One D1 batch (a transaction, so
 * concurrent logins are serialised): read each key's block, then count the attempt. An attempt
 * while blocked is refused and not counted; the first attempt over the limit is allowed and, in
 * the same statement, blocks the key for the next one — so after a block one try is possible,
 * and a burst can never get more than one guess past the limit.
 */
export async function reserveLoginAttempt(
  db: D1Database,
  keys: ThrottleKeys,
  now: number,
): Promise<number> {
  const entries: Array<[string, number]> = [[keys.user, USER_FAILURES_ALLOWED]]
  if (keys.ip !== null) entries.push([keys.ip, IP_FAILURES_ALLOWED])
  const reads = entries.map(([key]) =>
    db.prepare('SELECT blocked_until FROM login_throttle WHERE key = ?1').bind(key),
  )
  // F, the attempt count after this attempt: reset when the window has passed.
  const F = 'CASE WHEN window_started_at <= ?2 - ?3 THEN 1 ELSE failures + 1 END'
  const writes = entries.map(([key, allowed]) =>
    db
      .prepare(
        `INSERT INTO login_throttle (key, failures, window_started_at, blocked_until) VALUES (?1, 1, ?2, 0)
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE WHEN blocked_until > ?2 THEN failures ELSE ${F} END,
           window_started_at = CASE WHEN blocked_until <= ?2 AND window_started_at <= ?2 - ?3
                                    THEN ?2 ELSE window_started_at END,
           blocked_until = CASE WHEN blocked_until > ?2 THEN blocked_until
                                WHEN ${F} > ?4 THEN ?2 + MIN(?6, ?5 * (1 << MIN(20, ${F} - ?4 - 1)))
                                ELSE blocked_until END`,
      )
      .bind(key, now, WINDOW_SECONDS, allowed, BASE_BLOCK_SECONDS, MAX_BLOCK_SECONDS),
  )
  const results = await db.batch<{ blocked_until: number }>([...reads, ...writes])
  let wait = 0
  for (let i = 0; i < entries.length; i++) {
    const before = results[i]?.results[0]?.blocked_until ?? 0
    if (before > now) wait = Math.max(wait, before - now)
  }
  return wait
}

/**
 * A successful login: the user's counter is cleared, and the IP gets its reservation back (one
 * success does not vouch for an IP's other attempts).
 */
export async function releaseLoginAttempt(db: D1Database, keys: ThrottleKeys): Promise<void> {
  const statements = [db.prepare('DELETE FROM login_throttle WHERE key = ?1').bind(keys.user)]
  if (keys.ip !== null) {
    statements.push(
      db
        .prepare('UPDATE login_throttle SET failures = MAX(0, failures - 1) WHERE key = ?1')
        .bind(keys.ip),
    )
  }
  await db.batch(statements)
}

/** Deletes counters idle for longer than the window (cron). */
export async function pruneThrottle(db: D1Database, now: number): Promise<void> {
  await db
    .prepare('DELETE FROM login_throttle WHERE window_started_at <= ?1 AND blocked_until <= ?2')
    .bind(now - WINDOW_SECONDS, now)
    .run()
}
