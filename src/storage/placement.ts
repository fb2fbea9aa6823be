// Where a user's rows live. Users, their sessions and their refresh tokens are placed in one of
// BUCKET_COUNT logical buckets, fixed forever; configuration maps buckets to D1 databases
// (shards). A bucket is chosen once, when a user is created, from a hash of (tenant, username),
// and every identifier that later needs the user's shard carries it: the user id
// (`usr_<bucket>_…`), the session id (`<bucket>…`) and so the refresh token (`ghr1.<sid>.…`) and
// the access token's `sid`. Every hot operation therefore finds its one shard with no lookup,
// and adding shards moves whole buckets (docs/STORAGE.md § Shards) instead of re-hashing users.
// The hash is public on purpose: operator tooling (scripts/lib/placement.mjs, its twin) computes
// it without secrets. Identifiers from before sharding carry no bucket: they are in LEGACY_BUCKET.

import { encodeBase64Url } from '../lib/base64url'

/** The number of logical buckets; never changes (ids carry bucket numbers). */
export const BUCKET_COUNT = 1024
/** Where an identifier minted before sharding (no bucket in it) lives. */
export const LEGACY_BUCKET = 0

const BUCKET_DIGITS = 3
const SESSION_RANDOM_BYTES = 16
/** A session id: three lowercase hex digits of bucket, then 128 random bits in base64url. */
const SESSION_ID = /^([0-9a-f]{3})[A-Za-z0-9_-]{22}$/
/** A session id minted before sharding: 128 random bits, no bucket. */
const LEGACY_SESSION_ID = /^[A-Za-z0-9_-]{22}$/
const USER_ID = /^usr_([0-9a-f]{3})_[A-Za-z0-9_-]{1,64}$/
const encoder = new TextEncoder()

async function bucketOf(text: string): Promise<number> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)))
  return (((digest[0] as number) << 8) | (digest[1] as number)) % BUCKET_COUNT
}

/** The bucket of an account: SHA-256 of "gatehouse/bucket/v1\n<tenant>\n<normalized username>". */
export function accountBucket(tenant: string, normalizedUsername: string): Promise<number> {
  return bucketOf(`gatehouse/bucket/v1\n${tenant}\n${normalizedUsername}`)
}

/** The bucket of a client network's login counter (not tied to any one account). */
export function networkBucket(network: string): Promise<number> {
  return bucketOf(`gatehouse/bucket/v1/network\n${network}`)
}

function bucketText(bucket: number): string {
  return bucket.toString(16).padStart(BUCKET_DIGITS, '0')
}

/** A bucket number from its hex digits, or null when it names no bucket. */
function parseBucket(hex: string): number | null {
  const bucket = Number.parseInt(hex, 16)
  return bucket < BUCKET_COUNT ? bucket : null
}

/** A new session id in the bucket. */
export function newSessionId(bucket: number): string {
  return `${bucketText(bucket)}${encodeBase64Url(crypto.getRandomValues(new Uint8Array(SESSION_RANDOM_BYTES)))}`
}

/** A new user id in the bucket. */
export function newUserId(bucket: number): string {
  const random = [...crypto.getRandomValues(new Uint8Array(16))]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('')
  return `usr_${bucketText(bucket)}_${random}`
}

/** Whether a session id was minted before sharding (it names no bucket). */
export function isLegacySessionId(sid: string): boolean {
  return LEGACY_SESSION_ID.test(sid)
}

/** Whether a string has the shape of a session id (new or legacy). */
export function isSessionId(sid: string): boolean {
  return SESSION_ID.test(sid) || LEGACY_SESSION_ID.test(sid)
}

/**
 * The bucket a session id names: its prefix, LEGACY_BUCKET for a pre-sharding id, or null when
 * it is not a session id or names a bucket that does not exist.
 */
export function sessionBucket(sid: string): number | null {
  const m = SESSION_ID.exec(sid)
  if (m !== null) return parseBucket(m[1] as string)
  return LEGACY_SESSION_ID.test(sid) ? LEGACY_BUCKET : null
}

/**
 * The bucket a user id names (`usr_<bucket>_…`); 'unplaced' for any other id (minted before
 * sharding: it lives in its account's bucket, which the id does not say); null when the prefix
 * names no bucket.
 */
export function userBucket(userId: string): number | 'unplaced' | null {
  const m = USER_ID.exec(userId)
  return m === null ? 'unplaced' : parseBucket(m[1] as string)
}
