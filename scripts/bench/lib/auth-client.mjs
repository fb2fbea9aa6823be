// The benchmark's client of Gatehouse's auth server: seeds users straight into D1 (hashed like
// scripts/lib/password.mjs, with the pepper this run passes as PASSWORD_PEPPER), each on the
// session shard its account's bucket names and with an id carrying that bucket (placed by
// scripts/lib/placement.mjs, the gateway's twin), logs in as a mobile client, refreshes, and
// bulk-inserts filler sessions for the growth scenario.

import { hashPassword, upsertUserSql } from '../../lib/password.mjs'
import { accountBucket, newUserId, normalizeUsername } from '../../lib/placement.mjs'

export const BENCH_TENANT = 'bench'
const DEVICE_PREFIX = 'bench-device-'
/** Rows per filler INSERT: bounds one D1 statement while filling a million sessions. */
const FILL_CHUNK_ROWS = 250_000
const FILLER_LIFETIME_SECONDS = 7 * 86_400

/** Where a bench account lives on `gateway`: { bucket, binding, db } (its session shard). */
export async function placeAccount(gateway, username) {
  const bucket = await accountBucket(BENCH_TENANT, normalizeUsername(username))
  const binding = gateway.shardFor(bucket)
  return { bucket, binding, db: gateway.shards[binding] }
}

/**
 * Inserts (or resets) a user on its account's shard, id `usr_<bucket>_bench_<username>`;
 * returns the login credentials and the placement ({ id, username, password, bucket, binding,
 * db }). `stored` reuses a password hash made by hashPassword for `password` (one Argon2id run
 * for many users).
 */
export async function seedUser(
  gateway,
  { username, scopes = 'echo:read echo:write', password = `${username}-bench-password`, stored },
) {
  const place = await placeAccount(gateway, username)
  const id = newUserId(place.bucket, `bench_${username}`)
  stored ??= await hashPassword(password, gateway.secrets.PASSWORD_PEPPER)
  const now = Math.floor(Date.now() / 1000)
  const sql = upsertUserSql({ id, tenant: BENCH_TENANT, username, stored, scopes, now })
  await place.db.prepare(sql).run()
  return { id, username, password, ...place }
}

async function postJson(url, body) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`POST ${url} → ${res.status} ${text.slice(0, 200)}`)
  return JSON.parse(text)
}

/** Logs in as a mobile client; resolves to { accessToken, refreshToken, deviceId }. */
export async function login(gateway, user, deviceNumber = 0) {
  const deviceId = `${DEVICE_PREFIX}${deviceNumber}`
  const body = await postJson(`${gateway.url}/auth/login`, {
    tenant: BENCH_TENANT,
    username: user.username,
    password: user.password,
    client: 'mobile',
    device_id: deviceId,
  })
  return { accessToken: body.access_token, refreshToken: body.refresh_token, deviceId }
}

/** One mobile refresh; mutates `session` with the new tokens. */
export async function refresh(gateway, session) {
  const body = await postJson(`${gateway.url}/auth/refresh`, {
    refresh_token: session.refreshToken,
    device_id: session.deviceId,
  })
  session.refreshToken = body.refresh_token
  session.accessToken = body.access_token
}

/** The claims of a JWT (no verification: the bench reads its own tokens). */
export function jwtClaims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'))
}

/**
 * Inserts `count` filler sessions of `user` (as seedUser returns it) on its shard, each with one
 * unused refresh token, in chunks of one recursive-CTE statement each (ordered keys: a million
 * rows take seconds, not minutes). Session ids name the user's bucket, as login's do. Resolves
 * to the shard's session count.
 */
export async function fillSessions(user, count) {
  const { db, id: userId } = user
  const bucketHex = user.bucket.toString(16).padStart(3, '0')
  const now = Math.floor(Date.now() / 1000)
  const expires = now + FILLER_LIFETIME_SECONDS
  for (let start = 0; start < count; start += FILL_CHUNK_ROWS) {
    const end = Math.min(count, start + FILL_CHUNK_ROWS)
    const seq =
      'WITH RECURSIVE seq(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?2)'
    await db
      .prepare(
        `${seq} INSERT INTO sessions (sid, user_id, tenant, client_type, device_id, scope, created_at,
           last_used_at, absolute_expires_at, idle_expires_at)
         SELECT printf('%sfill%018d', ?7, i), ?3, ?4, 'mobile', 'filler', 'echo:read', ?5, ?5, ?6, ?6 FROM seq`,
      )
      .bind(start, end, userId, BENCH_TENANT, now, expires, bucketHex)
      .run()
    await db
      .prepare(
        `${seq} INSERT INTO refresh_tokens (token_hash, sid, generation, created_at, expires_at)
         SELECT printf('fillhash%035d', i), printf('%sfill%018d', ?5, i), 0, ?3, ?4 FROM seq`,
      )
      .bind(start, end, now, expires, bucketHex)
      .run()
  }
  const row = await db.prepare('SELECT COUNT(*) AS n FROM sessions').first()
  return row.n
}
