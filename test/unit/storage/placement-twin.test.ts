// scripts/lib/placement.mjs (what create-user and the demo seeding place users with) must agree
// with the Worker's placement, or a user written by a script lands on a shard the Worker never
// reads. The twin is plain ESM on WebCrypto, so it loads here, in workerd, beside the Worker's
// own modules; nothing is hard-coded, every expectation is the Worker's answer.

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as twin from '../../../scripts/lib/placement.mjs'
import { normalizeUsername } from '../../../src/accounts/user-store'
import {
  DEFAULT_AUDIT_BINDING,
  DEFAULT_SESSION_SHARD_BINDING,
  parseBuckets,
} from '../../../src/config/schema-storage'
import { AuthError } from '../../../src/lib/errors'
import { BUCKET_COUNT, accountBucket, userBucket } from '../../../src/storage/placement'
import { SessionShards } from '../../../src/storage/shards'

/** Names whose normalized form differs from what was typed, or that are not ASCII at all. */
const UNICODE_NAMES = [
  'Alice',
  'ＡＬＩＣＥ', // fullwidth: NFKC folds it to "alice"
  'Ünïcödé',
  'u\u0308nico\u0308de', // combining diaeresis: NFKC composes it
  'STRAẞE',
  'İstanbul', // lower case of U+0130 is two code points
  'ΣΊΣΥΦΟΣ',
  'ﬁnance', // the fi ligature
  '①②③',
  'Ⅻ',
  '김민준',
  '田中太郎',
  'محمد',
  '🦊fox',
  'a\u200db', // zero-width joiner survives NFKC
  'e\u0301',
  '',
]
const TENANTS = ['acme', 'demo', 'a', 'Tenant-1', 't.x_y']
const NAMES_SEED = 20260430

function generatedAccounts(): [string, string][] {
  const tenant = fc.constantFrom(...TENANTS)
  const username = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 24 }),
    fc.string({ unit: 'grapheme', maxLength: 12 }),
    fc.stringMatching(/^[a-z][a-z0-9.-]{0,20}$/),
  )
  return fc.sample(fc.tuple(tenant, username), { seed: NAMES_SEED, numRuns: 200 })
}

const ACCOUNTS: [string, string][] = [
  ...TENANTS.flatMap((t) => UNICODE_NAMES.map((u): [string, string] => [t, u])),
  ...generatedAccounts(),
]

describe('scripts/lib/placement.mjs agrees with the Worker', () => {
  it('normalizes every username the way the Worker stores it', () => {
    for (const [, username] of ACCOUNTS) {
      expect(twin.normalizeUsername(username), JSON.stringify(username)).toBe(
        normalizeUsername(username),
      )
    }
  })

  it(`puts every account in the Worker's bucket (${ACCOUNTS.length} tenant/username pairs)`, async () => {
    const seen = new Set<number>()
    for (const [tenant, username] of ACCOUNTS) {
      const normalized = normalizeUsername(username)
      const expected = await accountBucket(tenant, normalized)
      expect(await twin.accountBucket(tenant, normalized), `${tenant}/${username}`).toBe(expected)
      seen.add(expected)
    }
    // Not one constant answer: the pairs spread over many buckets.
    expect(seen.size).toBeGreaterThan(ACCOUNTS.length / 2)
  })

  it('mints user ids whose bucket the Worker reads back, for every bucket', () => {
    expect(twin.BUCKET_COUNT).toBe(BUCKET_COUNT)
    for (let bucket = 0; bucket < BUCKET_COUNT; bucket++) {
      expect(userBucket(twin.newUserId(bucket))).toBe(bucket)
      expect(userBucket(twin.newUserId(bucket, 'demo_alice'))).toBe(bucket)
    }
    expect(twin.newUserId(7)).not.toBe(twin.newUserId(7))
  })

  it('finds the shard the Worker uses for every bucket, and the frozen ones it refuses', () => {
    const storage = {
      session_shards: [
        { binding: 'SESSIONS_A', buckets: '0-255, 768-1023' },
        { binding: 'SESSIONS_B', buckets: '256-511' },
        { binding: 'SESSIONS_C', buckets: '512-767' },
      ],
      frozen_buckets: '300-301,900',
      audit_database: 'AUDIT',
    }
    const shards = new SessionShards(
      {
        shards: storage.session_shards.map((s) => ({
          binding: s.binding,
          buckets: parseBuckets(s.buckets) as number[],
        })),
        frozenBuckets: parseBuckets(storage.frozen_buckets) as number[],
      },
      () => ({}) as D1Database,
    )
    for (let bucket = 0; bucket < BUCKET_COUNT; bucket++) {
      const binding = twin.shardFor(bucket, { storage })
      expect(twin.shardFor(bucket, storage)).toBe(binding) // the table alone works as well
      if (twin.isFrozen(bucket, { storage })) {
        expect(() => shards.forBucket(bucket), `bucket ${bucket}`).toThrow(AuthError)
      } else {
        expect(shards.forBucket(bucket).name, `bucket ${bucket}`).toBe(binding)
      }
    }
    expect(twin.shardBindings({ storage })).toEqual(shards.all.map((s) => s.name))
    expect(twin.auditBinding({ storage })).toBe('AUDIT')
  })

  it('fills in the same defaults when a configuration has no storage table', () => {
    for (const bucket of [0, 511, BUCKET_COUNT - 1]) {
      expect(twin.shardFor(bucket, {})).toBe(DEFAULT_SESSION_SHARD_BINDING)
      expect(twin.isFrozen(bucket, {})).toBe(false)
    }
    expect(twin.shardBindings({})).toEqual([DEFAULT_SESSION_SHARD_BINDING])
    expect(twin.auditBinding({})).toBe(DEFAULT_AUDIT_BINDING)
  })

  it('reads bucket ranges as the schema does, and refuses what it refuses', () => {
    for (const text of ['', '0', '5-5', '0-1023', '1,2,3', '0-9, 20-29']) {
      expect(twin.parseBuckets(text), text).toEqual(parseBuckets(text))
    }
    for (const text of ['1024', '9-3', 'x', '0-511,', '-1']) {
      expect(typeof parseBuckets(text), text).toBe('string')
      expect(() => twin.parseBuckets(text), text).toThrow()
    }
  })
})
