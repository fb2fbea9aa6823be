// Moving buckets between session shards (docs/RUNBOOK.md § Adding a session shard): which rows of
// a shard belong to a set of buckets (a user's second factors and recovery codes with the user),
// and the SQL that copies them to another shard and later
// deletes them from the first (bucket-move-layout.mjs checks the configuration's step). Plain
// ESM on WebCrypto (through placement.mjs), so the same file runs in Node
// (scripts/move-buckets.mjs) and in workerd (test/unit/storage/bucket-move.test.ts checks it
// against the Worker). Selection is exact; the read queries it offers only narrow the rows read.

import { BUCKET_COUNT, accountBucket } from './placement.mjs'

/**
 * The tables a bucket's rows are in, parents first: the insert order. Deletes run backwards, so
 * factors and recovery codes (REFERENCES users, and D1 enforces foreign keys) go before users.
 * auth_challenges stay behind: they live minutes, a frozen bucket creates none, and a lost one
 * costs a retried login or ceremony (docs/STORAGE.md § Shards).
 */
export const MOVED_TABLES = ['users', 'sessions', 'refresh_tokens', 'factors', 'recovery_codes']
/** Each moved table's primary key. */
export const PRIMARY_KEY = {
  users: 'id',
  sessions: 'sid',
  refresh_tokens: 'token_hash',
  factors: 'id',
  recovery_codes: 'code_hash',
}

// The identifier shapes of src/storage/placement.ts (the workerd test compares the two).
const SESSION_ID = /^([0-9a-f]{3})[A-Za-z0-9_-]{22}$/
const LEGACY_SESSION_ID = /^[A-Za-z0-9_-]{22}$/
const USER_ID = /^usr_([0-9a-f]{3})_[A-Za-z0-9_-]{1,64}$/
/** The bucket the Worker resolves a session id minted before sharding to. */
export const LEGACY_BUCKET = 0
/** Keys per DELETE: far under D1's 100 KB statement limit with any of our key lengths. */
const DELETE_CHUNK_KEYS = 100
/** Wrangler's SQL splitter rewrites these even inside string literals (wrangler 4, d1/trimmer). */
const SPLITTER_HAZARD = /BEGIN TRANSACTION|COMMIT;/i
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/
const COLUMN = /^[a-z_][a-z0-9_]*$/
const PROBLEMS_SHOWN = 10

/** A session id's bucket: its prefix, 'legacy' (minted before sharding), or null (not an id). */
export function sessionIdBucket(sid) {
  const m = SESSION_ID.exec(sid)
  if (m !== null) return bucketOfHex(m[1])
  return LEGACY_SESSION_ID.test(sid) ? 'legacy' : null
}

/** A user id's bucket: its prefix, 'unplaced' (minted before sharding), or null (no bucket). */
export function userIdBucket(id) {
  const m = USER_ID.exec(id)
  return m === null ? 'unplaced' : bucketOfHex(m[1])
}

function bucketOfHex(hex) {
  const bucket = Number.parseInt(hex, 16)
  return bucket < BUCKET_COUNT ? bucket : null
}

/**
 * The rows of `rows` ({users, sessions, refresh_tokens, factors, recovery_codes}: arrays of row
 * objects as read from one shard) that live in `buckets`: users by the bucket their id names, or
 * by their account's bucket for an id minted before sharding; sessions by the bucket their id
 * names, or with their user for a 22-character id from before sharding; refresh tokens with their
 * session; factors and recovery codes with their user (their keys name no bucket). Also returns
 * `legacySessions` ({moved, stay}: counts of pre-sharding session ids) and `problems`: rows that
 * would be split from their parent (a session moving without its user, or staying without it),
 * which the caller must refuse.
 */
export async function selectRows(rows, buckets) {
  const moving = new Set(buckets)
  const userBucket = new Map()
  for (const u of rows.users) {
    const b = userIdBucket(u.id)
    userBucket.set(u.id, b === 'unplaced' ? await accountBucket(u.tenant, u.username) : b)
  }
  const users = rows.users.filter((u) => moving.has(userBucket.get(u.id)))
  const movedUsers = new Set(users.map((u) => u.id))
  const sessions = []
  const legacySessions = { moved: 0, stay: 0 }
  const problems = []
  for (const s of rows.sessions) {
    const own = sessionIdBucket(s.sid)
    const bucket = own === 'legacy' ? (userBucket.get(s.user_id) ?? null) : own
    const moves = moving.has(bucket)
    if (own === 'legacy') legacySessions[moves ? 'moved' : 'stay']++
    if (moves) sessions.push(s)
    if (moves && !movedUsers.has(s.user_id)) {
      problems.push(`session ${s.sid} (bucket ${bucket}) moves, its user ${s.user_id} does not`)
    } else if (!moves && own !== null && movedUsers.has(s.user_id)) {
      problems.push(`user ${s.user_id} moves, its session ${s.sid} (bucket ${bucket}) does not`)
    }
  }
  const movedSessions = new Set(sessions.map((s) => s.sid))
  const refresh_tokens = rows.refresh_tokens.filter((t) => movedSessions.has(t.sid))
  // Nothing to report here: a factor or code follows its user exactly, so it cannot be split off.
  const factors = rows.factors.filter((f) => movedUsers.has(f.user_id))
  const recovery_codes = rows.recovery_codes.filter((c) => movedUsers.has(c.user_id))
  return { users, sessions, refresh_tokens, factors, recovery_codes, legacySessions, problems }
}

/** Problems as printable lines: the first few, then how many more. */
export function summarizeProblems(problems) {
  const shown = problems.slice(0, PROBLEMS_SHOWN)
  const more = problems.length - shown.length
  return more > 0 ? [...shown, `… and ${more} more`] : shown
}

/**
 * A value as an SQL literal that keeps its storage class: NULL, an integer or real, or TEXT.
 * Text that is not printable ASCII, or that wrangler's splitter would rewrite, is written as
 * UTF-8 hex cast to TEXT. Throws TypeError for anything else (a BLOB, a boolean, NaN).
 */
export function sqlLiteral(value) {
  if (value === null) return 'NULL'
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (typeof value === 'bigint') return String(value)
  if (typeof value !== 'string') throw new TypeError(`cannot write ${typeof value} as SQL`)
  if (PRINTABLE_ASCII.test(value) && !SPLITTER_HAZARD.test(value)) {
    return `'${value.replace(/'/g, "''")}'`
  }
  const hex = [...new TextEncoder().encode(value)]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('')
  return `CAST(X'${hex}' AS TEXT)`
}

function column(name) {
  if (!COLUMN.test(name)) throw new TypeError(`${JSON.stringify(name)} is not a column name`)
  return name
}

/** One INSERT OR REPLACE per row, in MOVED_TABLES order (parents first). */
export function insertStatements(selection) {
  return MOVED_TABLES.flatMap((table) =>
    selection[table].map((row) => {
      const names = Object.keys(row).map(column)
      const values = names.map((n) => sqlLiteral(row[n]))
      return `INSERT OR REPLACE INTO ${table} (${names.join(', ')}) VALUES (${values.join(', ')});`
    }),
  )
}

/** The primary keys of a selection, per table. */
export function keysOf(selection) {
  return Object.fromEntries(
    MOVED_TABLES.map((t) => [t, selection[t].map((row) => row[PRIMARY_KEY[t]])]),
  )
}

/**
 * DELETEs of the given keys (per MOVED_TABLES table: arrays), children first (recovery codes,
 * factors, refresh tokens, sessions, users), at most DELETE_CHUNK_KEYS keys per statement.
 */
export function deleteStatements(keys) {
  return [...MOVED_TABLES].reverse().flatMap((table) => {
    const statements = []
    for (let i = 0; i < keys[table].length; i += DELETE_CHUNK_KEYS) {
      const chunk = keys[table].slice(i, i + DELETE_CHUNK_KEYS).map(sqlLiteral)
      statements.push(`DELETE FROM ${table} WHERE ${PRIMARY_KEY[table]} IN (${chunk.join(', ')});`)
    }
    return statements
  })
}

/**
 * The SQL that makes a target shard's rows in the buckets exactly the source's selection: first
 * deletes what the target holds there and the source does not (left by an abandoned attempt),
 * then inserts or replaces every selected row. Idempotent. `onTarget` is selectRows over the
 * target's rows with the same buckets. Returns { statements, stale (keys deleted, per table) }.
 */
export function copyStatements(selection, onTarget) {
  const wanted = keysOf(selection)
  const stale = Object.fromEntries(
    MOVED_TABLES.map((t) => {
      const keep = new Set(wanted[t])
      return [t, keysOf(onTarget)[t].filter((k) => !keep.has(k))]
    }),
  )
  return { statements: [...deleteStatements(stale), ...insertStatements(selection)], stale }
}

/**
 * How two selections of the same buckets differ, per table: keys only in `expected` (missing),
 * only in `actual` (extra), and in both with other values (changed). Equal when all are empty.
 */
export function compareSelections(expected, actual) {
  const canonical = (row) =>
    JSON.stringify(
      Object.keys(row)
        .sort()
        .map((k) => [k, row[k]]),
    )
  return Object.fromEntries(
    MOVED_TABLES.map((t) => {
      const key = PRIMARY_KEY[t]
      const have = new Map(actual[t].map((row) => [row[key], canonical(row)]))
      const want = new Map(expected[t].map((row) => [row[key], canonical(row)]))
      const missing = [...want.keys()].filter((k) => !have.has(k))
      const extra = [...have.keys()].filter((k) => !want.has(k))
      const changed = [...want].filter(([k, v]) => have.has(k) && have.get(k) !== v).map(([k]) => k)
      return [t, { missing, extra, changed }]
    }),
  )
}

/**
 * The keys, per table, of rows the source holds and the target does not, leaving out sessions and
 * refresh tokens expired at `now` (epoch seconds) and pending factors: the target's cron may have
 * deleted those (a pending factor after auth.mfa.challenge_ttl_seconds, which only the Worker's
 * configuration knows; one never confirmed answers no login, so losing it costs a new enrolment).
 * Active factors and recovery codes have no expiry: like users, they are listed. Such a row was
 * written to the source after the copy, and a cleanup would lose it — or the user deleted it on
 * the target since the cut-over (a factor removed, a new set of codes), which the caller must say.
 */
export function notOnTarget(source, onTarget, now) {
  const absent = compareSelections(source, onTarget)
  const live = {
    users: () => true,
    sessions: (row) => row.absolute_expires_at > now,
    refresh_tokens: (row) => row.expires_at > now,
    factors: (row) => row.status !== 'pending',
    recovery_codes: () => true,
  }
  return Object.fromEntries(
    MOVED_TABLES.map((t) => {
      const missing = new Set(absent[t].missing)
      return [
        t,
        source[t]
          .filter((r) => missing.has(r[PRIMARY_KEY[t]]) && live[t](r))
          .map((r) => r[PRIMARY_KEY[t]]),
      ]
    }),
  )
}

/** True when compareSelections found no difference. */
export function isSame(comparison) {
  return MOVED_TABLES.every((t) => Object.values(comparison[t]).every((keys) => keys.length === 0))
}

/** Buckets as the ranges text a configuration writes ("0-255,768-1023"; "" for none). */
export function rangesText(buckets) {
  const sorted = [...new Set(buckets)].sort((a, b) => a - b)
  const ranges = []
  for (let i = 0; i < sorted.length; ) {
    let j = i
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++
    ranges.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`)
    i = j + 1
  }
  return ranges.join(',')
}

function hex(bucket) {
  return `'${bucket.toString(16).padStart(3, '0')}'`
}

/** An SQL condition: the 3-character text `expr` names one of the buckets (lowercase hex). */
function bucketCondition(expr, buckets) {
  const parts = rangesText(buckets)
    .split(',')
    .map((range) => {
      const [from, to = from] = range.split('-').map(Number)
      return from === to ? `${expr} = ${hex(from)}` : `${expr} BETWEEN ${hex(from)} AND ${hex(to)}`
    })
  return `(${parts.join(' OR ')})`
}

/**
 * The rows of a table that might live in the buckets, for selectRows to decide: a superset (every
 * user whose id names no bucket, every session id without a bucket prefix). SQLite's GLOB and
 * length() restate USER_ID and SESSION_ID: a row the SQL calls placed, the regex does too.
 * Refresh tokens are read by their session's id, factors and recovery codes by their user's id
 * (with every one of a user from before sharding), as their parents are.
 */
function candidateCondition(table, buckets) {
  if (table === 'users') return userIdCandidate('id', buckets)
  if (table === 'factors' || table === 'recovery_codes') return userIdCandidate('user_id', buckets)
  return `(length(sid) <> 25 OR ${bucketCondition('substr(sid, 1, 3)', buckets)})`
}

/** An SQL condition: the user id in column `name` names no bucket, or one of the buckets. */
function userIdCandidate(name, buckets) {
  const placed =
    `${name} GLOB 'usr_[0-9a-f][0-9a-f][0-9a-f]_?*' AND length(${name}) <= 72 ` +
    `AND substr(${name}, 9) NOT GLOB '*[^A-Za-z0-9_-]*'`
  return `(NOT (${placed}) OR ${bucketCondition(`substr(${name}, 5, 3)`, buckets)})`
}

/**
 * One page of a table's candidate rows for the buckets, in primary-key order after `after` (a
 * key, or null for the first page): keyset paging, so a page costs the same wherever it starts.
 */
export function candidatePageQuery(table, buckets, after, limit) {
  const key = PRIMARY_KEY[table]
  const from = after === null ? '' : ` AND ${key} > ${sqlLiteral(after)}`
  return `SELECT * FROM ${table} WHERE ${candidateCondition(table, buckets)}${from} ORDER BY ${key} LIMIT ${limit}`
}
