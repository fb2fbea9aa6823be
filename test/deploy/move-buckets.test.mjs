// When `npm run shards:move` refuses (scripts/lib/bucket-move-layout.mjs), checked offline: a copy
// runs only on frozen buckets still owned by --from, a cleanup only on buckets --to owns and no
// longer frozen; every refusal that an edit can lift prints that edit, and the edit it prints is
// one the step then accepts. No wrangler, no configuration file: layouts are written here.
// Then what a copy and a cleanup write (scripts/lib/bucket-move.mjs), run on two shards simulated
// in memory with the session schema's foreign keys: a moved user's second factors and recovery
// codes arrive on the new shard and leave the old one, parents inserted first and deleted last.
// Run by `npm run check:deploy`, or alone: node --test test/deploy/move-buckets.test.mjs

import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  cutOverLayout,
  stepRefusal,
  storageEditLines,
  storageTable,
} from '../../scripts/lib/bucket-move-layout.mjs'
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
} from '../../scripts/lib/bucket-move.mjs'
import { newUserId, parseBuckets } from '../../scripts/lib/placement.mjs'

/** A parsed layout from ranges texts: {SESSIONS_0: '0-511', …}, frozen. */
function layout(shards, frozen = '') {
  return {
    shards: Object.entries(shards).map(([binding, buckets]) => ({
      binding,
      buckets: parseBuckets(buckets),
    })),
    frozenBuckets: parseBuckets(frozen),
  }
}

/** The layout a printed edit (a storage table) describes. */
function applied(table) {
  return layout(
    Object.fromEntries(table.session_shards.map((s) => [s.binding, s.buckets])),
    table.frozen_buckets,
  )
}

const MOVE = { buckets: parseBuckets('512-767'), from: 'SESSIONS_0', to: 'SESSIONS_2' }
/** Step 1 done: SESSIONS_2 is a shard owning nothing. */
const ADDED = { SESSIONS_0: '0-767', SESSIONS_1: '768-1023', SESSIONS_2: '' }
const CUT_OVER = { SESSIONS_0: '0-511', SESSIONS_1: '768-1023', SESSIONS_2: '512-767' }

test('a copy runs on frozen buckets still owned by --from', () => {
  assert.equal(stepRefusal(layout(ADDED, '512-767'), MOVE, 'copy'), null)
  assert.equal(stepRefusal(layout(ADDED, '100,512-800'), MOVE, 'copy'), null)
})

test('a copy to a shard the configuration does not name prints step 1’s edit', () => {
  const before = layout({ SESSIONS_0: '0-767', SESSIONS_1: '768-1023' })
  const refusal = stepRefusal(before, MOVE, 'copy')
  assert.match(refusal.problem, /SESSIONS_2 is not a session shard .*step 1/)
  assert.deepEqual(refusal.edit.session_shards.at(-1), { binding: 'SESSIONS_2', buckets: '' })
  assert.match(stepRefusal(applied(refusal.edit), MOVE, 'copy').problem, /not frozen/)
})

test('a copy of buckets that are not frozen prints the freeze, keeping other frozen buckets', () => {
  const refusal = stepRefusal(layout(ADDED, '100,600'), MOVE, 'copy')
  assert.match(refusal.problem, /^buckets 512-599,601-767 are not frozen/)
  assert.equal(refusal.edit.frozen_buckets, '100,512-767')
  assert.equal(stepRefusal(applied(refusal.edit), MOVE, 'copy'), null)
})

test('a copy of buckets --from does not own, or already cut over, is refused with no edit', () => {
  const elsewhere = stepRefusal(layout(ADDED, '512-800'), { ...MOVE, buckets: [700, 800] }, 'copy')
  assert.deepEqual(elsewhere, { problem: 'buckets 800 are not owned by SESSIONS_0', edit: null })
  const done = stepRefusal(layout(CUT_OVER), MOVE, 'copy')
  assert.match(done.problem, /owned by SESSIONS_2 already.*--cleanup/)
  assert.equal(done.edit, null)
})

test('a cleanup before the cut-over prints the cut-over: buckets to --to and unfrozen at once', () => {
  const refusal = stepRefusal(layout(ADDED, '100,512-767'), MOVE, 'cleanup')
  assert.match(refusal.problem, /still owned by SESSIONS_0: give them to SESSIONS_2/)
  assert.deepEqual(refusal.edit, {
    session_shards: [
      { binding: 'SESSIONS_0', buckets: '0-511' },
      { binding: 'SESSIONS_1', buckets: '768-1023' },
      { binding: 'SESSIONS_2', buckets: '512-767' },
    ],
    frozen_buckets: '100',
  })
  assert.equal(stepRefusal(applied(refusal.edit), MOVE, 'cleanup'), null)
})

test('a cleanup of buckets --from owns unfrozen is refused: their rows there are the live ones', () => {
  const refusal = stepRefusal(layout(ADDED), MOVE, 'cleanup')
  assert.match(refusal.problem, /owned by SESSIONS_0 and not frozen.*live ones/)
  assert.equal(refusal.edit, null)
})

test('a cleanup while the buckets are still frozen prints the unfreeze', () => {
  const refusal = stepRefusal(layout(CUT_OVER, '512-767'), MOVE, 'cleanup')
  assert.match(refusal.problem, /still frozen/)
  assert.equal(refusal.edit.frozen_buckets, '')
  assert.equal(stepRefusal(layout(CUT_OVER), MOVE, 'cleanup'), null)
})

test('names a shard mix-up before anything else', () => {
  const l = layout(ADDED, '512-767')
  assert.match(stepRefusal(l, { ...MOVE, to: 'SESSIONS_0' }, 'copy').problem, /same shard/)
  assert.match(stepRefusal(l, { ...MOVE, from: 'SESSIONS_9' }, 'copy').problem, /SESSIONS_9 is not/)
  assert.match(stepRefusal(l, { ...MOVE, buckets: [] }, 'cleanup').problem, /no bucket/)
})

test('prints an edit as lines to paste into the storage table', () => {
  const cut = storageTable(cutOverLayout(layout(ADDED, '512-767'), MOVE))
  assert.deepEqual(storageEditLines(cut), [
    '"storage": {',
    '  "session_shards": [',
    '    { "binding": "SESSIONS_0", "buckets": "0-511" },',
    '    { "binding": "SESSIONS_1", "buckets": "768-1023" },',
    '    { "binding": "SESSIONS_2", "buckets": "512-767" }',
    '  ],',
    '  "frozen_buckets": "",',
    '  … (audit_database and the other fields as they are)',
    '}',
  ])
})

// ── Rows: a user's factors and recovery codes move with it ─────────────────────────────────────

/** Each moved table's foreign keys (migrations/sessions): column → [parent table]. */
const PARENTS = {
  users: {},
  sessions: { user_id: 'users' },
  refresh_tokens: { sid: 'sessions' },
  factors: { user_id: 'users' },
  recovery_codes: { user_id: 'users' },
}
const LITERAL = /'(?:[^']|'')*'|NULL|-?\d+/g
const literalValue = (text) =>
  text === 'NULL' ? null : text.startsWith("'") ? text.slice(1, -1).replace(/''/g, "'") : +text

/**
 * A shard in memory: rows per table by primary key. Runs the statements bucket-move.mjs writes
 * (plain literals only) and, as D1 does, refuses one that breaks a foreign key.
 */
function memoryShard(rows = {}) {
  const tables = Object.fromEntries(
    MOVED_TABLES.map((t) => [t, new Map((rows[t] ?? []).map((r) => [r[PRIMARY_KEY[t]], r]))]),
  )
  const referenced = (table, key) =>
    MOVED_TABLES.some((child) =>
      Object.entries(PARENTS[child]).some(
        ([col, parent]) =>
          parent === table && [...tables[child].values()].some((r) => r[col] === key),
      ),
    )
  function run(statement) {
    const insert = /^INSERT OR REPLACE INTO (\w+) \(([^)]*)\) VALUES \((.*)\);$/.exec(statement)
    if (insert !== null) {
      const [, table, names, values] = insert
      const literals = values.match(LITERAL).map(literalValue)
      const row = Object.fromEntries(names.split(', ').map((n, i) => [n, literals[i]]))
      for (const [col, parent] of Object.entries(PARENTS[table])) {
        assert.ok(tables[parent].has(row[col]), `${statement}: no ${parent} ${row[col]}`)
      }
      tables[table].set(row[PRIMARY_KEY[table]], row)
      return
    }
    const del = /^DELETE FROM (\w+) WHERE (\w+) IN \((.*)\);$/.exec(statement)
    assert.ok(del !== null, `not a statement of bucket-move.mjs: ${statement}`)
    const [, table, key, keys] = del
    assert.equal(key, PRIMARY_KEY[table])
    for (const k of keys.match(LITERAL).map(literalValue)) {
      tables[table].delete(k)
      assert.ok(!referenced(table, k), `${statement}: ${table} ${k} is still referenced`)
    }
  }
  const all = () => Object.fromEntries(MOVED_TABLES.map((t) => [t, [...tables[t].values()]]))
  return { run, all }
}

const MOVING = parseBuckets('512-767')
const NOW = 1_750_000_000

/** A user in `bucket` with a session, a refresh token, a TOTP factor and two recovery codes. */
function account(bucket, name) {
  const id = newUserId(bucket, name)
  const sid = `${bucket.toString(16).padStart(3, '0')}${name.padEnd(22, 'A')}`
  return {
    users: [{ id, tenant: 'acme', username: name, status: 'active' }],
    sessions: [{ sid, user_id: id, absolute_expires_at: NOW + 3600, amr: 'pwd otp mfa' }],
    refresh_tokens: [{ token_hash: `rt-${name}`, sid, expires_at: NOW + 3600 }],
    factors: [{ id: `fac_${name}`, user_id: id, type: 'totp', status: 'active', created_at: 1 }],
    recovery_codes: [
      { code_hash: `rc1-${name}`, user_id: id, used_at: null },
      { code_hash: `rc2-${name}`, user_id: id, used_at: NOW },
    ],
  }
}

const merged = (...accounts) =>
  Object.fromEntries(MOVED_TABLES.map((t) => [t, accounts.flatMap((a) => a[t])]))
const none = () => Object.fromEntries(MOVED_TABLES.map((t) => [t, []]))

test('a copy and a cleanup move a user’s factors and recovery codes with it, and no one else’s', async () => {
  const moved = account(600, 'moved')
  const kept = account(100, 'kept')
  const from = memoryShard(merged(moved, kept))
  const to = memoryShard()

  const rows = await selectRows(from.all(), MOVING)
  assert.deepEqual(rows.problems, [])
  assert.deepEqual(keysOf(rows), keysOf(moved))
  for (const statement of copyStatements(rows, await selectRows(to.all(), MOVING)).statements) {
    to.run(statement)
  }
  assert.deepEqual(to.all(), moved)
  assert.ok(isSame(compareSelections(rows, await selectRows(to.all(), MOVING))))

  assert.deepEqual(notOnTarget(rows, await selectRows(to.all(), MOVING), NOW), none())
  for (const statement of deleteStatements(keysOf(rows))) from.run(statement)
  assert.deepEqual(from.all(), kept)
  assert.deepEqual(keysOf(await selectRows(from.all(), MOVING)), none())
})

test('a copy deletes what an abandoned attempt left, factors and codes before their user', async () => {
  const moved = account(600, 'moved')
  const leftover = account(700, 'gone')
  const to = memoryShard(merged(moved, leftover))
  const rows = await selectRows(merged(moved), MOVING)
  const { statements, stale } = copyStatements(rows, await selectRows(to.all(), MOVING))
  assert.deepEqual(stale, keysOf(leftover))
  for (const statement of statements) to.run(statement)
  assert.deepEqual(to.all(), moved)
})

test('a cleanup is refused for a factor or recovery code the target lacks, not a pending factor', async () => {
  const moved = account(600, 'moved')
  const rows = await selectRows(moved, MOVING)
  const pending = { ...moved.factors[0], id: 'fac_pending', status: 'pending' }
  const source = { ...moved, factors: [...moved.factors, pending] }
  const onTarget = { ...moved, factors: [], recovery_codes: [moved.recovery_codes[1]] }
  assert.deepEqual(notOnTarget(await selectRows(source, MOVING), onTarget, NOW), {
    ...none(),
    factors: ['fac_moved'],
    recovery_codes: ['rc1-moved'],
  })
  const differs = compareSelections(rows, onTarget)
  assert.deepEqual(differs.factors.missing, ['fac_moved'])
  assert.ok(!isSame(differs))
})

test('reads factors and recovery codes by their user’s bucket, with every user from before sharding', () => {
  for (const table of ['factors', 'recovery_codes']) {
    const query = candidatePageQuery(table, MOVING, null, 1000)
    assert.match(query, new RegExp(`^SELECT \\* FROM ${table} WHERE \\(NOT \\(user_id GLOB`))
    assert.match(query, /substr\(user_id, 5, 3\) BETWEEN '200' AND '2ff'/)
    assert.match(query, new RegExp(`ORDER BY ${PRIMARY_KEY[table]} LIMIT 1000$`))
  }
})
