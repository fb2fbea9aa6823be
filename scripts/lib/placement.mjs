// Node twin of src/storage/placement.ts (and of the storage table's defaults and bucket ranges in
// src/config/schema-storage.ts), for operator scripts that write users straight into D1: which
// bucket an account is in, which shard owns it, what its user id looks like. Plain ESM on
// WebCrypto (`crypto.subtle`, global in Node 20 and in workerd), so the same file runs in both:
// test/unit/storage/placement-twin.test.ts loads it in workerd and compares it with the Worker.
// It trusts its input: call it with a configuration the gateway's own parser has accepted.

/** The number of logical buckets; never changes (ids carry bucket numbers). */
export const BUCKET_COUNT = 1024
/** The session shard and audit bindings when a configuration has no storage table. */
export const DEFAULT_SESSION_SHARD_BINDING = 'DB'
export const DEFAULT_AUDIT_BINDING = 'AUDIT_DB'

const BUCKET_DIGITS = 3
const USER_ID_RANDOM_BYTES = 16
const RANGE = /^(\d{1,4})(?:-(\d{1,4}))?$/
const encoder = new TextEncoder()

/** The form usernames are stored, looked up and placed in (src/accounts/user-store.ts). */
export function normalizeUsername(username) {
  return username.normalize('NFKC').toLowerCase()
}

/**
 * The bucket of an account, 0 to BUCKET_COUNT - 1: the first two bytes of
 * SHA-256("gatehouse/bucket/v1\n<tenant>\n<normalized username>"), big-endian, mod BUCKET_COUNT.
 */
export async function accountBucket(tenant, normalizedUsername) {
  const text = `gatehouse/bucket/v1\n${tenant}\n${normalizedUsername}`
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)))
  return ((digest[0] << 8) | digest[1]) % BUCKET_COUNT
}

/**
 * A user id in the bucket: `usr_<bucket, 3 lowercase hex digits>_<32 random hex digits>`, or
 * with a readable suffix instead of the random part (`usr_3e3_demo_alice`, seeded demo users).
 */
export function newUserId(bucket, suffix) {
  const random =
    suffix ??
    [...crypto.getRandomValues(new Uint8Array(USER_ID_RANDOM_BYTES))]
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('')
  return `usr_${bucket.toString(16).padStart(BUCKET_DIGITS, '0')}_${random}`
}

/** The buckets a ranges text names ("0-511,700"); throws on text the schema would refuse. */
export function parseBuckets(text) {
  const buckets = []
  if (text.trim() === '') return buckets
  for (const part of text.split(',')) {
    const m = RANGE.exec(part.trim())
    const from = Number(m?.[1])
    const to = m?.[2] === undefined ? from : Number(m[2])
    if (m === null || to < from || to >= BUCKET_COUNT) {
      throw new Error(
        `${JSON.stringify(part.trim())} is not a bucket range of 0-${BUCKET_COUNT - 1}`,
      )
    }
    for (let b = from; b <= to; b++) buckets.push(b)
  }
  return buckets
}

/**
 * A configuration's storage table with the schema's defaults filled in. `config` is a
 * configuration document (config/<profile>.json as parsed JSON) or its `storage` table.
 */
export function storageOf(config) {
  const storage = config?.storage ?? (isStorageTable(config) ? config : {})
  return {
    session_shards: storage.session_shards ?? [
      { binding: DEFAULT_SESSION_SHARD_BINDING, buckets: `0-${BUCKET_COUNT - 1}` },
    ],
    frozen_buckets: storage.frozen_buckets ?? '',
    audit_database: storage.audit_database ?? DEFAULT_AUDIT_BINDING,
  }
}

function isStorageTable(value) {
  return ['session_shards', 'frozen_buckets', 'audit_database'].some((k) => k in (value ?? {}))
}

/** The session shards' D1 bindings, in the configuration's order. */
export function shardBindings(config) {
  return storageOf(config).session_shards.map((s) => s.binding)
}

/** The D1 binding audit events are written to. */
export function auditBinding(config) {
  return storageOf(config).audit_database
}

/** The D1 binding of the shard owning a bucket; throws when no shard does (an invalid config). */
export function shardFor(bucket, config) {
  const shard = storageOf(config).session_shards.find((s) =>
    parseBuckets(s.buckets).includes(bucket),
  )
  if (shard === undefined) throw new Error(`no session shard owns bucket ${bucket}`)
  return shard.binding
}

/** True while a bucket is being moved between shards (storage.frozen_buckets): hands off. */
export function isFrozen(bucket, config) {
  return parseBuckets(storageOf(config).frozen_buckets).includes(bucket)
}
