// The `storage` table: which D1 databases hold what. Users, sessions, refresh tokens and login
// counters are spread over session shards by bucket (src/storage/placement.ts); every one of the
// BUCKET_COUNT buckets is owned by exactly one shard. Audit events go to a database of their own,
// so audit volume never competes with refresh writes. docs/STORAGE.md § Shards.

import * as v from 'valibot'
import { BUCKET_COUNT } from '../storage/placement'
import { at, bindingName, firstDuplicate, integer, table } from './fields'

const LAST_BUCKET = BUCKET_COUNT - 1
const RANGE = /^(\d{1,4})(?:-(\d{1,4}))?$/
export const DEFAULT_SESSION_SHARD_BINDING = 'DB'
export const DEFAULT_AUDIT_BINDING = 'AUDIT_DB'
export const DEFAULT_AUDIT_RETENTION_DAYS = 90

/** The buckets a ranges text names ("0-511,700,800-899"), or the problem with it. */
export function parseBuckets(text: string): number[] | string {
  if (text.trim() === '') return []
  const buckets: number[] = []
  for (const part of text.split(',')) {
    const m = RANGE.exec(part.trim())
    if (m === null) return `${JSON.stringify(part.trim())} is not a bucket or a range like 0-511`
    const from = Number(m[1])
    const to = m[2] === undefined ? from : Number(m[2])
    if (to > LAST_BUCKET) return `buckets are numbered 0 to ${LAST_BUCKET}`
    if (to < from) return `${JSON.stringify(part.trim())} runs backwards`
    for (let b = from; b <= to; b++) buckets.push(b)
  }
  return buckets
}

const bucketRanges = (description: string) =>
  v.pipe(
    v.string('must be a string of buckets, e.g. "0-511"'),
    v.rawCheck<string>(({ dataset, addIssue }) => {
      if (!dataset.typed) return
      const parsed = parseBuckets(dataset.value)
      if (typeof parsed === 'string') addIssue({ message: parsed })
    }),
    v.description(description),
  )

type ShardEntry = { binding: string; buckets: string }

/** The first bucket no shard owns or two shards own, described; undefined when none. */
function ownershipProblem(shards: readonly ShardEntry[]): string | undefined {
  const owner = new Map<number, string>()
  for (const shard of shards) {
    const buckets = parseBuckets(shard.buckets)
    if (typeof buckets === 'string') return undefined // reported on the field itself
    for (const b of buckets) {
      const other = owner.get(b)
      if (other !== undefined) return `bucket ${b} is owned by both ${other} and ${shard.binding}`
      owner.set(b, shard.binding)
    }
  }
  for (let b = 0; b <= LAST_BUCKET; b++) {
    if (!owner.has(b))
      return `bucket ${b} is owned by no shard (buckets 0-${LAST_BUCKET} must all be)`
  }
  return undefined
}

const ShardSchema = table({
  binding: bindingName('The D1 binding (wrangler.toml [[d1_databases]] binding) of this shard.'),
  buckets: bucketRanges(
    `The buckets this shard owns, as ranges: "0-511" or "0-255,768-1023" (0-${LAST_BUCKET}).`,
  ),
})

const defaultShards = (): ShardEntry[] => [
  { binding: DEFAULT_SESSION_SHARD_BINDING, buckets: `0-${LAST_BUCKET}` },
]

export const StorageSchema = v.pipe(
  table({
    session_shards: v.optional(
      v.pipe(
        v.array(ShardSchema, 'must be a list of shard tables'),
        v.minLength(1, 'must list at least 1 shard'),
        v.check(
          (shards) => firstDuplicate(shards.map((s) => s.binding)) === undefined,
          (issue) =>
            `binding ${JSON.stringify(firstDuplicate(issue.input.map((s) => s.binding)))} is listed twice`,
        ),
        v.check(
          (shards) => ownershipProblem(shards) === undefined,
          (issue) => ownershipProblem(issue.input) ?? 'invalid',
        ),
        v.description(
          'The D1 databases users, sessions, refresh tokens and login counters are spread over. ' +
            'Append-only in spirit: to add a shard, move buckets to it (docs/STORAGE.md § Shards).',
        ),
      ),
      defaultShards,
    ),
    frozen_buckets: v.optional(
      bucketRanges(
        'Buckets being moved between shards: their logins, refreshes and logouts answer 503 ' +
          'with Retry-After (nothing changes) until the move is done.',
      ),
      '',
    ),
    audit_database: v.optional(
      bindingName('The D1 binding audit events are written to (not a session shard).'),
      DEFAULT_AUDIT_BINDING,
    ),
    audit_retention_days: integer(
      DEFAULT_AUDIT_RETENTION_DAYS,
      1,
      3650,
      'Audit events older than this are deleted by the cron (days). A D1 database holds 10 GB: ' +
        'docs/CAPACITY.md gives the events per user and what fits.',
    ),
  }),
  at(
    ['audit_database'],
    v.check(
      (s) => !s.session_shards.some((shard) => shard.binding === s.audit_database),
      'must not be a session shard: audit writes would compete with refreshes',
    ),
  ),
  v.description('Where users, sessions and audit events are stored (docs/STORAGE.md § Shards).'),
)
