// Whether a configuration's storage table is at the step of a bucket move that a copy or a
// cleanup needs (docs/RUNBOOK.md § Adding a session shard), and the edit that gets it there. It
// reads the configuration as written in the checkout, not what is deployed: the runbook says
// when to deploy. Pure, so test/deploy/move-buckets.test.mjs checks every refusal offline.

import { rangesText } from './bucket-move.mjs'

/**
 * A layout (a parsed configuration's `storage`: {shards: [{binding, buckets: number[]}],
 * frozenBuckets: number[]}) as the configuration writes it: {session_shards, frozen_buckets}.
 */
export function storageTable(layout) {
  return {
    session_shards: layout.shards.map((s) => ({
      binding: s.binding,
      buckets: rangesText(s.buckets),
    })),
    frozen_buckets: rangesText(layout.frozenBuckets),
  }
}

/**
 * A storage table as lines to paste into a configuration file's `storage` (indented by
 * `indent`); the fields it does not set (audit_database, …) stay as they are.
 */
export function storageEditLines(table, indent = '') {
  const shards = table.session_shards.map(
    (s, i, all) =>
      `    { "binding": ${JSON.stringify(s.binding)}, "buckets": ${JSON.stringify(s.buckets)} }${i < all.length - 1 ? ',' : ''}`,
  )
  return [
    '"storage": {',
    '  "session_shards": [',
    ...shards,
    '  ],',
    `  "frozen_buckets": ${JSON.stringify(table.frozen_buckets)},`,
    '  … (audit_database and the other fields as they are)',
    '}',
  ].map((line) => indent + line)
}

function withShards(layout, change) {
  return { ...layout, shards: layout.shards.map((s) => ({ ...s, buckets: change(s) })) }
}

/** The layout after step 4 of moving `buckets` from `from` to `to`: owned by `to`, unfrozen. */
export function cutOverLayout(layout, { buckets, from, to }) {
  const moved = new Set(buckets)
  const owned = withShards(layout, (s) => {
    if (s.binding === from) return s.buckets.filter((b) => !moved.has(b))
    if (s.binding === to) return [...s.buckets, ...buckets].sort((a, b) => a - b)
    return s.buckets
  })
  return { ...owned, frozenBuckets: layout.frozenBuckets.filter((b) => !moved.has(b)) }
}

function ownerOf(layout, bucket) {
  return layout.shards.find((s) => s.buckets.includes(bucket))?.binding
}

/** Buckets (of `buckets`) that fail `test`, as a ranges text; '' when none does. */
function failing(buckets, test) {
  return rangesText(buckets.filter((b) => !test(b)))
}

/**
 * Why `step` ('copy' | 'cleanup') of moving `move.buckets` from shard `move.from` to shard
 * `move.to` must not run under `layout`, or null when it may. A refusal is { problem, edit }:
 * `edit` is the storage table (storageTable) that would allow the step, or null when no edit
 * is the way forward (a wrong shard name, a move already done or never made).
 */
export function stepRefusal(layout, move, step) {
  const { buckets, from, to } = move
  const refuse = (problem, edit = null) => ({ problem, edit: edit && storageTable(edit) })
  if (buckets.length === 0) return refuse('--buckets names no bucket')
  if (from === to) return refuse('--from and --to are the same shard')
  if (!layout.shards.some((s) => s.binding === from)) {
    return refuse(`${from} is not a session shard of this configuration`)
  }
  if (!layout.shards.some((s) => s.binding === to)) {
    const added = { ...layout, shards: [...layout.shards, { binding: to, buckets: [] }] }
    return refuse(
      `${to} is not a session shard of this configuration yet: add it owning no buckets, bind ` +
        'and migrate its database, and deploy (step 1)',
      added,
    )
  }
  const frozen = new Set(layout.frozenBuckets)
  const owned = (binding) => (b) => ownerOf(layout, b) === binding
  if (step === 'copy') {
    const notFrom = failing(buckets, owned(from))
    if (notFrom !== '') {
      return refuse(
        failing(buckets, owned(to)) === ''
          ? `buckets ${notFrom} are owned by ${to} already: the cut-over is made (next: --cleanup)`
          : `buckets ${notFrom} are not owned by ${from}`,
      )
    }
    const notFrozen = failing(buckets, (b) => frozen.has(b))
    if (notFrozen === '') return null
    return refuse(
      `buckets ${notFrozen} are not frozen: freeze them and deploy before copying (step 2)`,
      { ...layout, frozenBuckets: [...new Set([...layout.frozenBuckets, ...buckets])] },
    )
  }
  const notTo = failing(buckets, owned(to))
  if (notTo !== '') {
    const stillFrom = failing(buckets, owned(from)) === ''
    if (stillFrom && failing(buckets, (b) => frozen.has(b)) === '') {
      return refuse(
        `buckets ${notTo} are still owned by ${from}: give them to ${to} and unfreeze them in ` +
          'one change, and deploy (step 4), before cleaning up',
        cutOverLayout(layout, move),
      )
    }
    return refuse(
      stillFrom
        ? `buckets ${notTo} are owned by ${from} and not frozen: they were not moved (or the ` +
            `move was backed out), and their rows on ${from} are the live ones`
        : `buckets ${notTo} are not owned by ${to}`,
    )
  }
  const stillFrozen = failing(buckets, (b) => !frozen.has(b))
  if (stillFrozen === '') return null
  return refuse(
    `buckets ${stillFrozen} are still frozen: unfreeze them and deploy (step 4) before cleaning up`,
    cutOverLayout(layout, move),
  )
}
