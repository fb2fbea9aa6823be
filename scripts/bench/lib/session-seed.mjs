// Seeds many bench accounts at once straight into D1, each with one open mobile session: users on
// their account's shard with an id naming its bucket (scripts/lib/placement.mjs), the session and
// its first refresh token as login writes them (src/sessions/session-store.ts createSession; the
// token `ghr1.<sid>.<secret>` stored only as its SHA-256, src/sessions/refresh-token.ts).
// Logging in thousands of accounts would cost an Argon2id hash each (~40 ms); the trade-off is
// this copy of the token format, which cannot drift silently: a seeded token the gateway does
// not accept, or a row on a shard the gateway does not look in, fails its first rotation.

import { createHash, randomBytes } from 'node:crypto'
import { newUserId, normalizeUsername } from '../../lib/placement.mjs'
import { BENCH_TENANT, placeAccount } from './auth-client.mjs'

/** Absolute and idle lifetime of a seeded session: longer than any bench run. */
const SESSION_LIFETIME_SECONDS = 86_400
/**
 * Rows per INSERT: each statement takes its rows as one JSON parameter (json_each), since every
 * prepared statement is a round trip through Miniflare's proxy (one per row took 30 s for 3 000).
 */
const ROWS_PER_STATEMENT = 500
const SESSION_RANDOM_BYTES = 16 // src/storage/placement.ts newSessionId
const TOKEN_SECRET_BYTES = 32 // src/sessions/refresh-token.ts
const SCOPES = 'echo:read echo:write'

const INSERT_USERS = `INSERT INTO users (id, tenant, username, password_scheme, password_params,
    password_hash, scopes, status, password_changed_at, created_at)
  SELECT json_extract(value, '$.id'), ?2, json_extract(value, '$.username'), ?3, ?4, ?5, ?6,
    'active', ?7, ?7
  FROM json_each(?1)`
const INSERT_SESSIONS = `INSERT INTO sessions (sid, user_id, tenant, client_type, device_id, scope,
    created_at, last_used_at, absolute_expires_at, idle_expires_at, credential_version)
  SELECT json_extract(value, '$.sid'), json_extract(value, '$.id'), ?2, 'mobile', ?3, ?4, ?5, ?5,
    ?6, ?6, 0
  FROM json_each(?1)`
const INSERT_TOKENS = `INSERT INTO refresh_tokens (token_hash, sid, generation, created_at, expires_at)
  SELECT json_extract(value, '$.hash'), json_extract(value, '$.sid'), 0, ?2, ?3
  FROM json_each(?1)`

const bucketHex = (bucket) => bucket.toString(16).padStart(3, '0')

/** A refresh token of a new session in `bucket`, and the hash D1 keeps of it. */
function newSessionToken(bucket) {
  const sid = `${bucketHex(bucket)}${randomBytes(SESSION_RANDOM_BYTES).toString('base64url')}`
  const token = `ghr1.${sid}.${randomBytes(TOKEN_SECRET_BYTES).toString('base64url')}`
  return { sid, token, hash: createHash('sha256').update(token).digest('base64url') }
}

/** Inserts one shard's accounts ([{ id, username, sid, hash }]): users, sessions, tokens. */
async function insertAccounts(db, accounts, { stored, deviceId, now, expires }) {
  for (let i = 0; i < accounts.length; i += ROWS_PER_STATEMENT) {
    const rows = JSON.stringify(accounts.slice(i, i + ROWS_PER_STATEMENT))
    await db.batch([
      db
        .prepare(INSERT_USERS)
        .bind(rows, BENCH_TENANT, stored.scheme, stored.params, stored.hash, SCOPES, now),
      db.prepare(INSERT_SESSIONS).bind(rows, BENCH_TENANT, deviceId, SCOPES, now, expires),
      db.prepare(INSERT_TOKENS).bind(rows, now, expires),
    ])
  }
}

/**
 * Creates one user per username on `gateway` (password hash `stored`, from hashPassword) and one
 * mobile session for `deviceId` each. Resolves to the sessions, in the order of `usernames`:
 * [{ username, bucket, binding, refreshToken, deviceId }] (what auth-client's refresh() takes).
 */
export async function seedSessions(gateway, usernames, { stored, deviceId }) {
  const now = Math.floor(Date.now() / 1000)
  const expires = now + SESSION_LIFETIME_SECONDS
  const byShard = new Map()
  const sessions = []
  for (const username of usernames) {
    const { bucket, binding } = await placeAccount(gateway, username)
    const id = newUserId(bucket, `bench_${username}`)
    const { sid, token, hash } = newSessionToken(bucket)
    const accounts = byShard.get(binding) ?? []
    accounts.push({ id, username: normalizeUsername(username), sid, hash })
    byShard.set(binding, accounts)
    sessions.push({ username, bucket, binding, refreshToken: token, deviceId })
  }
  for (const [binding, accounts] of byShard) {
    await insertAccounts(gateway.shards[binding], accounts, { stored, deviceId, now, expires })
  }
  return sessions
}
