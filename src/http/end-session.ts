// Ending a session everywhere at once: the D1 row stops every refresh, and the subject's
// RevocationShard kills the session's access tokens on every route that checks revocation.
// Both writes are idempotent: if the second fails the caller gets a retryable 503.

import { tokenHorizon } from '../config/config'
import { AuthError } from '../lib/errors'
import { emitSecurityEvent, type EventSink } from '../observability/security-events'
import { revokeSessionRow, type Session } from '../sessions/session-store'
import type { Services } from './services'

/** Why a session ended: a closed set (audit events and revocation entries carry it). */
export type EndReason =
  | 'logout'
  | 'admin'
  | 'refresh_reuse'
  | 'user_disabled'
  | 'password_changed'
  | 'revoked_by_client'
  | 'factors_reset'

/** Revokes the session's refresh tokens (D1) and its access tokens (RevocationShard). */
export async function endSession(
  s: Services,
  session: Pick<Session, 'sid' | 'userId' | 'tenant'>,
  reason: EndReason,
  sink: EventSink,
  actor: string | null = null,
): Promise<void> {
  const now = Math.floor(s.now() / 1000)
  let changed = false
  for (const shard of s.sessionShards.forSessionSearch(session.sid)) {
    if (await revokeSessionRow(shard.db, session.sid, reason, now)) changed = true
  }
  // The entry lives as long as any access token of the session can.
  try {
    await s
      .shards(s.config.auth.issuer, session.tenant, session.userId)
      .revokeSession(session.sid, tokenHorizon(s.config, now), reason)
  } catch {
    // Refreshes are already dead (D1 above); the caller may retry: both writes are idempotent.
    throw new AuthError('revocation_unavailable', {
      detail: 'session revoked in D1 only',
      retryAfterSeconds: 1,
    })
  }
  if (changed) {
    emitSecurityEvent(sink, {
      type: 'session_revoked',
      tenant: session.tenant,
      user_id: session.userId,
      sid: session.sid,
      reason,
      actor,
    })
  }
}
