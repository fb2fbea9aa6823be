// When `npm run shards:move` refuses (scripts/lib/bucket-move-layout.mjs), checked offline: a copy
// runs only on frozen buckets still owned by --from, a cleanup only on buckets --to owns and no
// longer frozen; every refusal that an edit can lift prints that edit, and the edit it prints is
// one the step then accepts. No wrangler, no configuration file: layouts are written here.
// Run by `npm run check:deploy`, or alone: node --test test/deploy/move-buckets.test.mjs

import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  cutOverLayout,
  stepRefusal,
  storageEditLines,
  storageTable,
} from '../../scripts/lib/bucket-move-layout.mjs'
import { parseBuckets } from '../../scripts/lib/placement.mjs'

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
