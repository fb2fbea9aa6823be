// Adding a session shard (docs/RUNBOOK.md § Adding a session shard) on the real local D1 shards:
// users and sessions are made through the real gateway while SESSIONS_0 owns every bucket and
// SESSIONS_1 none (step 1), buckets 512-1023 are frozen (2), copied with scripts/lib/bucket-move.mjs
// exactly as scripts/move-buckets.mjs does (3), given to SESSIONS_1, which is the test profile's
// two-shard layout (4), and deleted from SESSIONS_0 (5). Nobody signs in again, a moved user's
// second factors and recovery codes move with it, and nothing of the buckets that stay is touched. The tests of this file share the two databases: each moves the
// same buckets again and asserts only on its own users.

import { env } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  MOVED_TABLES,
  PRIMARY_KEY,
  candidatePageQuery,
  compareSelections,
  copyStatements,
  deleteStatements,
  isSame,
  keysOf,
  notOnTarget,
  selectRows,
  sessionIdBucket,
  userIdBucket,
  type Row,
  type Rows,
  type Selection,
} from '../../../scripts/lib/bucket-move.mjs'
import { hashPassword } from '../../../src/accounts/password-hash'
import { createUser, normalizeUsername } from '../../../src/accounts/user-store'
import { hashRefreshToken } from '../../../src/sessions/refresh-token'
import {
  accountBucket,
  newSessionId,
  newUserId,
  sessionBucket,
  userBucket,
} from '../../../src/storage/placement'
import {
  accessTokenOf,
  authConfig,
  authEnv,
  cookieToken,
  login,
  operatorAccess,
  refreshWeb,
  sessionIdOf,
  type TestUser,
} from '../../helpers/auth'
import { installNetwork, send, testEnv } from '../../helpers/gateway'
import { codeFor, enrolTotp, mfaConfig, mfaEnv, passwordLogin, secondStep } from '../../helpers/mfa'

/** The buckets moved: the upper half, so that the end state is the test profile's layout. */
const MOVED = Array.from({ length: 512 }, (_, i) => 512 + i)
/** Small pages, so that every table needs several (the script reads 1 000 rows a page). */
const PAGE_ROWS = 25
/** Step 1: SESSIONS_1 is bound and migrated, and owns no bucket yet. */
const STEP_1 = {
  session_shards: [
    { binding: 'SESSIONS_0', buckets: '0-1023' },
    { binding: 'SESSIONS_1', buckets: '' },
  ],
  audit_database: 'AUDIT_DB',
}
const oneShard = testEnv({ ...authConfig(), storage: STEP_1 })
/** Step 2: the buckets to move are frozen. */
const frozen = testEnv({ ...authConfig(), storage: { ...STEP_1, frozen_buckets: '512-1023' } })
/** Step 4: SESSIONS_1 owns 512-1023 (the test profile's TEST_STORAGE). */
const twoShards = authEnv()
/** Steps 1 and 4 with a WebAuthn relying party, for enrolling and using second factors. */
const mfaOneShard = testEnv(mfaConfig({ storage: STEP_1 }))
const mfaTwoShards = mfaEnv()

beforeEach(() => {
  installNetwork()
})
afterEach(() => vi.restoreAllMocks())

/** A user written to SESSIONS_0 (which owns every bucket) in the half of the buckets asked for. */
async function userIn(half: 'kept' | 'moved', name = 'u'): Promise<TestUser> {
  for (let i = 0; ; i++) {
    const username = i === 0 && name !== 'u' ? name : `${name}-${crypto.randomUUID().slice(0, 8)}`
    const bucket = await accountBucket('acme', normalizeUsername(username))
    if (bucket >= 512 !== (half === 'moved')) continue
    const user = { id: newUserId(bucket), tenant: 'acme', username, password: `pw-${i}-secret` }
    const stored = await hashPassword(user.password, env.PASSWORD_PEPPER as string)
    const scopes = ['echo:read']
    await createUser(env.SESSIONS_0, { ...user, password: stored, scopes }, nowSeconds() - 10)
    return user
  }
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000)
}

/** Signs a user in as a web client; returns the refresh token. */
async function signIn(gateway: typeof env, user: TestUser): Promise<string> {
  const res = await login(gateway, user)
  expect(res.status).toBe(200)
  return cookieToken(res)
}

/** A refresh that must succeed; returns the successor. */
async function refreshed(gateway: typeof env, token: string): Promise<string> {
  const res = await refreshWeb(gateway, token)
  expect(res.status).toBe(200)
  return cookieToken(res)
}

/** The rows of a shard that may be in the moved buckets, page by page, as the script reads. */
async function readRows(db: D1Database): Promise<Rows> {
  const rows = noRows()
  for (const table of MOVED_TABLES) {
    let after: string | null = null
    for (;;) {
      const query = candidatePageQuery(table, MOVED, after, PAGE_ROWS)
      const page = (await db.prepare(query).all<Row>()).results
      rows[table].push(...page)
      if (page.length < PAGE_ROWS) break
      after = page.at(-1)?.[PRIMARY_KEY[table]] as string
    }
  }
  return rows
}

function noRows(): Rows {
  return { users: [], sessions: [], refresh_tokens: [], factors: [], recovery_codes: [] }
}

async function selected(db: D1Database): Promise<Selection> {
  return selectRows(await readRows(db), MOVED)
}

async function run(db: D1Database, statements: string[]): Promise<void> {
  if (statements.length > 0) await db.batch(statements.map((s) => db.prepare(s)))
}

/** Step 3, as scripts/move-buckets.mjs does it: copy, then verify the target row for row. */
async function copyMoved(): Promise<Selection> {
  const rows = await selected(env.SESSIONS_0)
  expect(rows.problems).toEqual([])
  await run(env.SESSIONS_1, copyStatements(rows, await selected(env.SESSIONS_1)).statements)
  expect(compareSelections(rows, await selected(env.SESSIONS_1))).toSatisfy(isSame)
  return rows
}

/** Step 5: delete the moved rows from SESSIONS_0, after checking SESSIONS_1 holds them. */
async function cleanUpMoved(): Promise<void> {
  const rows = await selected(env.SESSIONS_0)
  const absent = notOnTarget(rows, await selected(env.SESSIONS_1), nowSeconds())
  expect(absent).toEqual(noRows())
  await run(env.SESSIONS_0, deleteStatements(keysOf(rows)))
}

async function rowsOf(db: D1Database, userId: string) {
  const q = (sql: string) => db.prepare(sql).bind(userId).all<Row>()
  const [users, sessions, tokens, factors, codes] = await Promise.all([
    q('SELECT * FROM users WHERE id = ?1'),
    q('SELECT * FROM sessions WHERE user_id = ?1 ORDER BY sid'),
    q(
      'SELECT t.* FROM refresh_tokens t JOIN sessions s ON s.sid = t.sid WHERE s.user_id = ?1 ORDER BY t.token_hash',
    ),
    q('SELECT * FROM factors WHERE user_id = ?1 ORDER BY id'),
    q('SELECT * FROM recovery_codes WHERE user_id = ?1 ORDER BY code_hash'),
  ])
  return {
    users: users.results,
    sessions: sessions.results,
    refresh_tokens: tokens.results,
    factors: factors.results,
    recovery_codes: codes.results,
  }
}

describe('moving buckets 512-1023 from SESSIONS_0 to a new shard', () => {
  it('keeps moved sessions refreshing and moved users signing in; the freeze answers 503 meanwhile', async () => {
    const kept = await userIn('kept')
    const moved = await userIn('moved')
    let keptToken = await refreshed(oneShard, await signIn(oneShard, kept))
    // Rotated once: the moved rows include a used token with its sealed successor.
    const movedToken = await refreshed(oneShard, await signIn(oneShard, moved))

    const refusal = await refreshWeb(frozen, movedToken)
    expect(refusal.status).toBe(503)
    expect(refusal.headers.get('retry-after')).toBe('30')
    expect((await login(frozen, moved)).status).toBe(503)
    keptToken = await refreshed(frozen, keptToken)

    await copyMoved()

    const successor = await refreshed(twoShards, movedToken)
    expect(await refreshed(twoShards, successor)).toMatch(/^ghr1\./)
    const newSid = sessionIdOf(await signIn(twoShards, moved))
    expect((await rowsOf(env.SESSIONS_1, moved.id)).sessions.map((s) => s.sid)).toContain(newSid)
    expect((await rowsOf(env.SESSIONS_0, moved.id)).sessions.map((s) => s.sid)).not.toContain(
      newSid,
    )
    await refreshed(twoShards, keptToken)
  })

  it('lets the admin API list and end a moved user’s sessions', async () => {
    const moved = await userIn('moved')
    const tokens = [await signIn(oneShard, moved), await signIn(oneShard, moved)]
    await copyMoved()
    const operator = await operatorAccess(twoShards)

    const listed = await send(twoShards, `/admin/sessions?sub=${moved.id}&tenant=acme`, {
      token: operator,
    })
    expect(listed.status).toBe(200)
    const body = (await listed.json()) as { sessions: { sid: string }[] }
    expect(body.sessions.map((s) => s.sid).sort()).toEqual(tokens.map(sessionIdOf).sort())
    const sid = sessionIdOf(tokens[0] as string)
    const ended = await send(twoShards, `/admin/sessions/${sid}`, {
      method: 'DELETE',
      token: operator,
    })
    expect(ended.status).toBe(204)
    expect((await refreshWeb(twoShards, tokens[0] as string)).status).toBe(401)
    await refreshed(twoShards, tokens[1] as string)
  })

  it('cleans up: SESSIONS_0 loses the moved rows and nothing else, and moved sessions live on', async () => {
    const kept = await userIn('kept')
    const moved = await userIn('moved')
    await refreshed(oneShard, await signIn(oneShard, kept))
    const movedToken = await signIn(oneShard, moved)
    const keptBefore = await rowsOf(env.SESSIONS_0, kept.id)
    const movedBefore = await rowsOf(env.SESSIONS_0, moved.id)
    expect(movedBefore.refresh_tokens).toHaveLength(1)

    await copyMoved()
    await cleanUpMoved()

    expect(keysOf(await selected(env.SESSIONS_0))).toEqual(noRows())
    expect(await rowsOf(env.SESSIONS_0, moved.id)).toEqual(noRows())
    expect(await rowsOf(env.SESSIONS_0, kept.id)).toEqual(keptBefore)
    expect(await rowsOf(env.SESSIONS_1, moved.id)).toEqual(movedBefore)
    await refreshed(twoShards, movedToken)
    await signIn(twoShards, moved)
  })

  it('copies again idempotently, replacing what an abandoned attempt left on the new shard', async () => {
    const moved = await userIn('moved')
    await signIn(oneShard, moved)
    await copyMoved()
    // An abandoned attempt: a row changed and a user the source no longer holds.
    await env.SESSIONS_1.prepare("UPDATE users SET scopes = 'echo:write' WHERE id = ?1")
      .bind(moved.id)
      .run()
    const leftover = newUserId(700)
    await env.SESSIONS_1.prepare(
      `INSERT INTO users (id, tenant, username, password_scheme, password_params, password_hash,
         password_changed_at, created_at) VALUES (?1, 'acme', ?1, 'argon2id', '{}', 'x', 1, 1)`,
    )
      .bind(leftover)
      .run()
    // …with a factor and a recovery code: deleted before the user, or the foreign keys refuse.
    await env.SESSIONS_1.batch([
      env.SESSIONS_1.prepare(
        `INSERT INTO factors (id, user_id, tenant, type, status, created_at)
           VALUES ('fac_leftover', ?1, 'acme', 'totp', 'active', 1)`,
      ).bind(leftover),
      env.SESSIONS_1.prepare(
        `INSERT INTO recovery_codes (code_hash, user_id, created_at) VALUES ('leftover-code', ?1, 1)`,
      ).bind(leftover),
    ])

    await copyMoved()

    expect(await rowsOf(env.SESSIONS_1, moved.id)).toEqual(await rowsOf(env.SESSIONS_0, moved.id))
    expect(await rowsOf(env.SESSIONS_1, leftover)).toEqual(noRows())
  })

  it('writes every value back as stored: NULL, integers, quotes, non-ASCII and SQL-looking text', async () => {
    const name = "O'Brien -- BEGIN TRANSACTION; COMMIT; /* x */ Ünïcödé 🦊"
    const moved = await userIn('moved', name)
    const token = await signIn(oneShard, moved)
    const source = await rowsOf(env.SESSIONS_0, moved.id)
    expect(source.users[0]?.username).toBe(normalizeUsername(moved.username))
    expect(source.sessions[0]?.device_id).toBeNull()

    await copyMoved()

    expect(await rowsOf(env.SESSIONS_1, moved.id)).toEqual(source)
    await refreshed(twoShards, token)
    await signIn(twoShards, moved)
  })

  it('moves a user’s second factors and recovery codes with it: they answer its logins on the new shard', async () => {
    const kept = await userIn('kept')
    const moved = await userIn('moved')
    const keptTotp = await enrolTotp(
      mfaOneShard,
      await accessTokenOf(await login(mfaOneShard, kept)),
    )
    const totp = await enrolTotp(mfaOneShard, await accessTokenOf(await login(mfaOneShard, moved)))
    const keptBefore = await rowsOf(env.SESSIONS_0, kept.id)
    const movedBefore = await rowsOf(env.SESSIONS_0, moved.id)
    expect(movedBefore.factors.map((f) => f.id)).toEqual([totp.factorId])
    expect(movedBefore.recovery_codes).toHaveLength(10)
    expect(keptBefore.factors.map((f) => f.id)).toEqual([keptTotp.factorId])

    const rows = await copyMoved()
    expect(rows.factors.map((f) => f.id)).toContain(totp.factorId)
    expect(rows.factors.map((f) => f.id)).not.toContain(keptTotp.factorId)
    await cleanUpMoved()

    expect(await rowsOf(env.SESSIONS_1, moved.id)).toEqual(movedBefore)
    expect(await rowsOf(env.SESSIONS_0, moved.id)).toEqual(noRows())
    expect(await rowsOf(env.SESSIONS_0, kept.id)).toEqual(keptBefore)
    expect(await rowsOf(env.SESSIONS_1, kept.id)).toEqual(noRows())

    // The password alone does not log the moved user in; its authenticator app and codes do.
    const mfaToken = async () => {
      const res = await passwordLogin(mfaTwoShards, moved)
      expect(res.status).toBe(403)
      return ((await res.json()) as { mfa_token: string }).mfa_token
    }
    // The confirming code's time step is spent: the next step's code is within the window.
    const otp = await codeFor(totp.secret, 1)
    expect((await secondStep(mfaTwoShards, { mfa_token: await mfaToken(), otp })).status).toBe(200)
    const recovery_code = totp.recoveryCodes?.[0] as string
    const byCode = await secondStep(mfaTwoShards, { mfa_token: await mfaToken(), recovery_code })
    expect(byCode.status).toBe(200)
  })

  it('moves a session from before sharding with its user; it keeps refreshing on its new shard', async () => {
    const { id: placedId, ...moved } = await userIn('moved')
    const legacyId = `usr_${crypto.randomUUID().replace(/-/g, '')}`
    await env.SESSIONS_0.prepare('UPDATE users SET id = ?2 WHERE id = ?1')
      .bind(placedId, legacyId)
      .run()
    const legacySid = crypto.randomUUID().replace(/-/g, '').slice(0, 22)
    const token = `ghr1.${legacySid}.${'Q'.repeat(42)}A`
    const expires = nowSeconds() + 3600
    await env.SESSIONS_0.batch([
      env.SESSIONS_0.prepare(
        `INSERT INTO sessions (sid, user_id, tenant, client_type, scope, created_at, last_used_at,
           absolute_expires_at, idle_expires_at) VALUES (?1, ?2, 'acme', 'web', 'echo:read', 1, 1, ?3, ?3)`,
      ).bind(legacySid, legacyId, expires),
      env.SESSIONS_0.prepare(
        `INSERT INTO refresh_tokens (token_hash, sid, generation, created_at, expires_at)
           VALUES (?1, ?2, 0, 1, ?3)`,
      ).bind(await hashRefreshToken(token), legacySid, expires),
    ])
    const current = await refreshed(oneShard, token)

    const rows = await copyMoved()
    expect(rows.sessions.map((s) => s.sid)).toContain(legacySid)
    expect(rows.legacySessions.moved).toBeGreaterThanOrEqual(1)
    await cleanUpMoved()

    // A sid without a bucket is looked for on bucket 0's shard first, then on every other.
    expect((await refreshWeb(twoShards, current)).status).toBe(200)
    await signIn(twoShards, { id: legacyId, ...moved })
  })
})

describe('scripts/lib/bucket-move.mjs', () => {
  it('reads the bucket of a session or user id as the Worker does', () => {
    const buckets = [0, 1, 255, 511, 512, 700, 1023]
    const sids = [
      ...buckets.map(newSessionId),
      'A'.repeat(22),
      `fff${'A'.repeat(22)}`,
      `ABC${'A'.repeat(22)}`,
      `00a${'A'.repeat(21)}`,
      '',
    ]
    for (const sid of sids) {
      const mine = sessionIdBucket(sid)
      expect(mine === 'legacy' ? 0 : mine, sid).toBe(sessionBucket(sid))
    }
    const ids = [
      ...buckets.map((b) => newUserId(b)),
      `usr_${'a'.repeat(32)}`,
      'usr_3e3_demo_alice',
      'usr_3e3_',
      'usr_3e3_dot.ted',
      `usr_200_${'x'.repeat(65)}`,
      'usr_fff_x',
      'usr_ABC_x',
    ]
    for (const id of ids) expect(userIdBucket(id), id).toBe(userBucket(id))
  })

  it('reads, page by page, every row it then selects, whatever the shape of the ids', async () => {
    const user = await userIn('kept')
    const odd = [
      `usr_${'b'.repeat(32)}`,
      'usr_3e3_',
      'usr_2ff_dot.ted',
      `usr_200_${'x'.repeat(65)}`,
      'usr_fff_x',
      'usr_ABC_x',
      ...Array.from({ length: 2 * PAGE_ROWS }, () =>
        newUserId(512 + Math.floor(Math.random() * 512)),
      ),
    ]
    await env.SESSIONS_0.batch(
      odd.map((id) =>
        env.SESSIONS_0.prepare(
          `INSERT INTO users (id, tenant, username, password_scheme, password_params, password_hash,
             password_changed_at, created_at) VALUES (?1, 'acme', ?1, 'argon2id', '{}', 'x', 1, 1)`,
        ).bind(id),
      ),
    )
    // Each with a factor and a recovery code: those tables need several pages too.
    await env.SESSIONS_0.batch(
      odd.flatMap((id) => [
        env.SESSIONS_0.prepare(
          `INSERT INTO factors (id, user_id, tenant, type, status, created_at)
             VALUES (?2, ?1, 'acme', 'totp', 'active', 1)`,
        ).bind(id, `fac_${crypto.randomUUID()}`),
        env.SESSIONS_0.prepare(
          'INSERT INTO recovery_codes (code_hash, user_id, created_at) VALUES (?2, ?1, 1)',
        ).bind(id, crypto.randomUUID()),
      ]),
    )
    await env.SESSIONS_0.prepare(
      `INSERT INTO sessions (sid, user_id, tenant, client_type, scope, created_at, last_used_at,
         absolute_expires_at, idle_expires_at) VALUES (?1, ?2, 'acme', 'web', '', 1, 1, 1, 1)`,
    )
      .bind(`ABC${'A'.repeat(22)}`, user.id)
      .run()
    const all = async (table: string) =>
      (await env.SESSIONS_0.prepare(`SELECT * FROM ${table}`).all<Row>()).results
    const everything: Rows = {
      users: await all('users'),
      sessions: await all('sessions'),
      refresh_tokens: await all('refresh_tokens'),
      factors: await all('factors'),
      recovery_codes: await all('recovery_codes'),
    }
    const paged = await selected(env.SESSIONS_0)
    const exact = await selectRows(everything, MOVED)
    expect(compareSelections(exact, paged)).toSatisfy(isSame)
    expect(paged.users.length).toBeGreaterThan(2 * PAGE_ROWS)
    expect(paged.factors.length).toBeGreaterThan(2 * PAGE_ROWS)
    expect(paged.recovery_codes.length).toBeGreaterThan(2 * PAGE_ROWS)
  })

  it('names the rows a move would split from their parent', async () => {
    const user = (id: string): Row => ({ id, tenant: 'acme', username: id })
    const session = (sid: string, userId: string): Row => ({ sid, user_id: userId })
    const low = newUserId(5)
    const high = newUserId(600)
    const selection = await selectRows(
      {
        users: [user(low), user(high)],
        sessions: [session(newSessionId(600), low), session(newSessionId(5), high)],
        refresh_tokens: [],
        factors: [],
        recovery_codes: [],
      },
      MOVED,
    )
    expect(selection.problems).toEqual([
      expect.stringMatching(`moves, its user ${low} does not`),
      expect.stringMatching(`^user ${high} moves, its session`),
    ])
  })

  it('moves factors and recovery codes with their user, whatever bucket their keys look like', async () => {
    const low = newUserId(5)
    const high = newUserId(600)
    const user = (id: string): Row => ({ id, tenant: 'acme', username: id })
    const factor = (id: string, userId: string): Row => ({ id, user_id: userId })
    const code = (hash: string, userId: string): Row => ({ code_hash: hash, user_id: userId })
    const selection = await selectRows(
      {
        users: [user(low), user(high)],
        sessions: [],
        refresh_tokens: [],
        factors: [factor('fac_600', low), factor('fac_5', high)],
        recovery_codes: [code('600', low), code('005', high), code('x', high)],
      },
      MOVED,
    )
    expect(keysOf(selection)).toEqual({
      ...noRows(),
      users: [high],
      factors: ['fac_5'],
      recovery_codes: ['005', 'x'],
    })
    expect(selection.problems).toEqual([])
  })
})
