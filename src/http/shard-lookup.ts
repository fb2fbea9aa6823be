// Finding stored users, sessions and refresh tokens on the one shard their identifier names
// (src/storage/placement.ts): a session id or a refresh token names its bucket, a user id too.
// Nothing here searches, except for a user id minted before sharding (admin paths only).

import type { User } from '../accounts/user-store'
import { findUserById } from '../accounts/user-store'
import { findRefreshContext, type RefreshContext } from '../sessions/refresh-store'
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
  const shard = sid === null ? null : services.sessionShards.forSession(sid)
  if (shard === null) return null
  const context = await findRefreshContext(shard.db, await hashRefreshToken(token))
  return context !== null && context.session.sid === sid ? context : null
}

/** A session by id, from the shard its id names; null when there is none. */
export async function lookupSession(services: Services, sid: string): Promise<Session | null> {
  const shard = services.sessionShards.forSession(sid)
  return shard === null ? null : findSession(shard.db, sid)
}

/** A user by id with the shard holding it; null when there is none. */
export async function lookupUser(
  services: Services,
  userId: string,
): Promise<{ user: User; shard: Shard } | null> {
  for (const shard of services.sessionShards.forUser(userId)) {
    const user = await findUserById(shard.db, userId)
    if (user !== null) return { user, shard }
  }
  return null
}
