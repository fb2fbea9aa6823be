// Finding stored users, sessions and refresh tokens on the one shard their identifier names
// (src/storage/placement.ts): a session id or a refresh token names its bucket, a user id too.
// Nothing here searches, except for a user id minted before sharding (admin paths only).

import type { User } from '../accounts/user-store'
import { findUserById, normalizeUsername } from '../accounts/user-store'
import { accountBucket, userBucket } from '../storage/placement'
import {
  findRefreshContext,
  rotateRefreshToken,
  type RefreshContext,
  type Rotation,
  type RotationGuard,
} from '../sessions/refresh-store'
import { hashRefreshToken, refreshTokenSessionId } from '../sessions/refresh-token'
import { findSession, type Session } from '../sessions/session-store'
import type { Shard } from '../storage/shards'
import type { Services } from './services'

/**
 * A presented refresh token's session, user standing and successor state; null when it is
 * malformed, names no shard or is unknown (all "no such token" to logout, RFC 7009, RFC 7662).
 */
export async function lookupRefreshToken(
  services: Services,
  token: string,
): Promise<RefreshContext | null> {
  const sid = refreshTokenSessionId(token)
  if (sid === null) return null
  return (await findRefreshToken(services, sid, await hashRefreshToken(token)))?.context ?? null
}

/**
 * A refresh token by hash on the shard its session id names (for an id from before sharding,
 * the first shard that has it), with that shard; null when none does.
 */
export async function findRefreshToken(
  services: Services,
  sid: string,
  hash: string,
): Promise<{ context: RefreshContext; shard: Shard } | null> {
  for (const shard of services.sessionShards.forSessionSearch(sid)) {
    const context = await findRefreshContext(shard.db, hash)
    if (context !== null && context.session.sid === sid) return { context, shard }
  }
  return null
}

/**
 * rotateRefreshToken on the shard the session id names (for an id from before sharding, on each
 * shard that may hold it until one has the token): the token's state before, whether this call
 * rotated it, and the shard; null when no shard has the token.
 */
export async function rotateOnShard(
  services: Services,
  rotation: Rotation,
  guard: RotationGuard,
): Promise<{ context: RefreshContext; rotated: boolean; shard: Shard } | null> {
  for (const shard of services.sessionShards.forSessionSearch(rotation.sid)) {
    const { context, rotated } = await rotateRefreshToken(shard.db, rotation, guard)
    // The UPDATE is bound to the sid too: a row of another session was read, never rotated.
    if (context !== null && context.session.sid === rotation.sid) {
      return { context, rotated, shard }
    }
  }
  return null
}

/** A session by id, from the shard its id names; null when there is none. */
export async function lookupSession(services: Services, sid: string): Promise<Session | null> {
  for (const shard of services.sessionShards.forSessionSearch(sid)) {
    const session = await findSession(shard.db, sid)
    if (session !== null) return session
  }
  return null
}

/** A user by id with the shard holding it; null when there is none. */
export async function lookupUser(
  services: Services,
  userId: string,
): Promise<{ user: User; shard: Shard } | null> {
  const shards = services.sessionShards
  for (const shard of shards.forUser(userId)) {
    const user = await findUserById(shard.db, userId)
    if (user === null) continue
    // A user id from before sharding is searched for on every shard: only the shard that owns
    // its account's bucket now holds the live row (a move's copy may linger on the old one),
    // and asking forBucket applies the freeze of a bucket being moved.
    if (userBucket(userId) === 'unplaced') {
      const bucket = await accountBucket(user.tenant, normalizeUsername(user.username))
      if (!shards.owns(shard, bucket)) continue
    }
    return { user, shard }
  }
  return null
}
