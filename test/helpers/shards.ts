// The test profile's storage: two session shards and an audit database, as in the demo profile,
// and where a test finds the rows of a user or a session (the same placement the gateway uses).

import { env } from 'cloudflare:test'
import { normalizeUsername } from '../../src/accounts/user-store'
import { accountBucket, sessionBucket, userBucket } from '../../src/storage/placement'

/** The bucket boundary of the two test shards. */
const SPLIT = 512

export const TEST_STORAGE = {
  session_shards: [
    { binding: 'SESSIONS_0', buckets: `0-${SPLIT - 1}` },
    { binding: 'SESSIONS_1', buckets: `${SPLIT}-1023` },
  ],
  audit_database: 'AUDIT_DB',
}

/** The D1 database of a bucket under TEST_STORAGE. */
export function bucketDb(bucket: number): D1Database {
  return bucket < SPLIT ? env.SESSIONS_0 : env.SESSIONS_1
}

/** The shard holding a session (by the bucket its id names). */
export function sessionDb(sid: string): D1Database {
  const bucket = sessionBucket(sid)
  if (bucket === null) throw new Error(`${sid} names no bucket`)
  return bucketDb(bucket)
}

/** The shard holding a user created with a bucket in its id. */
export function userDb(userId: string): D1Database {
  const bucket = userBucket(userId)
  if (typeof bucket !== 'number') throw new Error(`${userId} names no bucket`)
  return bucketDb(bucket)
}

/** The shard an account (tenant, username) lives on. */
export async function accountDb(tenant: string, username: string): Promise<D1Database> {
  return bucketDb(await accountBucket(tenant, normalizeUsername(username)))
}

const D1_DOWN = 'D1_ERROR: Network connection lost.'

/** A real D1 database with every transaction (`batch`), or all SQL (`prepare` too), failing. */
export function brokenDb(what: 'prepare' | 'batch', db: D1Database): D1Database {
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'batch') return () => Promise.reject(new Error(D1_DOWN))
      if (prop === 'prepare' && what === 'prepare') {
        return () => {
          throw new Error(D1_DOWN)
        }
      }
      const value = Reflect.get(target, prop) as unknown
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value
    },
  })
}
