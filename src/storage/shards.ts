// The session shards: which D1 database holds a bucket's users, sessions, refresh tokens and
// login counters. Built once per isolate from the configured layout (every bucket owned by
// exactly one shard, checked by the config schema) and the Worker's D1 bindings. A bucket being
// moved between shards is frozen: every operation on it answers 503 with Retry-After and changes
// nothing, until the move is done and the layout names its new shard (docs/STORAGE.md § Shards).

import { AuthError } from '../lib/errors'
import {
  accountBucket,
  isLegacySessionId,
  networkBucket,
  sessionBucket,
  userBucket,
} from './placement'

export interface ShardLayout {
  /** Each shard's D1 binding and the buckets it owns (every bucket exactly once). */
  readonly shards: readonly { readonly binding: string; readonly buckets: readonly number[] }[]
  /** Buckets being moved: refused with 503 until the layout names their new shard. */
  readonly frozenBuckets: readonly number[]
}

export interface Shard {
  /** The D1 binding's name: what logs, metrics and operators call the shard. */
  readonly name: string
  readonly db: D1Database
}

/** How long a client should wait before retrying an operation on a frozen bucket. */
export const FROZEN_RETRY_SECONDS = 30

export class SessionShards {
  private readonly byBucket: Shard[] = []
  private readonly frozen: ReadonlySet<number>
  readonly all: readonly Shard[]

  constructor(layout: ShardLayout, database: (binding: string) => D1Database) {
    this.all = layout.shards.map((s) => ({ name: s.binding, db: database(s.binding) }))
    layout.shards.forEach((s, i) => {
      for (const bucket of s.buckets) this.byBucket[bucket] = this.all[i] as Shard
    })
    this.frozen = new Set(layout.frozenBuckets)
  }

  /** The shard owning a bucket; throws 503 store_unavailable while the bucket is being moved. */
  forBucket(bucket: number): Shard {
    const shard = this.byBucket[bucket]
    if (shard === undefined) throw new Error(`bucket ${bucket} has no shard`) // the schema forbids it
    if (this.frozen.has(bucket)) {
      throw new AuthError('store_unavailable', {
        detail: 'this account is being moved to another database; retry shortly',
        retryAfterSeconds: FROZEN_RETRY_SECONDS,
      })
    }
    return shard
  }

  /** The shard of an account: where login finds the user and creates the session. */
  async forAccount(tenant: string, normalizedUsername: string): Promise<Shard> {
    return this.forBucket(await accountBucket(tenant, normalizedUsername))
  }

  /**
   * The shard of a client network's login counter. Counters are not moved with buckets (they
   * are short-lived), so a frozen bucket does not stop them: a move never blocks the logins of
   * whole networks.
   */
  async forNetwork(network: string): Promise<Shard> {
    return this.forTransient(await networkBucket(network))
  }

  /**
   * The shard of a bucket for short-lived rows (throttle counters, passkey-login challenges):
   * they are not moved with a bucket, so a move's freeze does not apply to them.
   */
  forTransient(bucket: number): Shard {
    return this.byBucket[bucket] as Shard
  }

  /** The shard a session id names, or null when it names none (refused as an unknown token). */
  forSession(sid: string): Shard | null {
    const bucket = sessionBucket(sid)
    return bucket === null ? null : this.forBucket(bucket)
  }

  /**
   * The shards that may hold a session: the one its id names; for an id from before sharding
   * (no bucket in it) the shard of bucket 0 first, then every other (its user's account may
   * have moved); [] when the id names no bucket.
   */
  forSessionSearch(sid: string): readonly Shard[] {
    const shard = this.forSession(sid)
    if (shard === null) return []
    if (!isLegacySessionId(sid)) return [shard]
    return [shard, ...this.all.filter((s) => s !== shard)]
  }

  /** Whether a shard owns a bucket now (a copy left behind by a move does not). */
  owns(shard: Shard, bucket: number): boolean {
    return this.forBucket(bucket) === shard
  }

  /**
   * The shards that may hold a user: the one its id names, or every shard for an id minted
   * before sharding (admin paths only, never a hot path); [] when the id names no bucket.
   */
  forUser(userId: string): readonly Shard[] {
    const bucket = userBucket(userId)
    if (bucket === null) return []
    return bucket === 'unplaced' ? this.all : [this.forBucket(bucket)]
  }
}
