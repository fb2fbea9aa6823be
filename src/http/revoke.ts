// Revocation actions of the admin API, RFC 7009 and account changes. Each writes the subject's
// RevocationShard (which every standard/critical route consults) and, for our own users, the D1
// session rows (which every refresh consults), so the two always agree. Logout ends one session
// with end-session.ts directly.

import { tokenHorizon } from '../config/config'
import { emitSecurityEvent, type EventSink } from '../observability/security-events'
import { activeSessionIds } from '../sessions/session-store'
import { endSession, type EndReason } from './end-session'
import type { Services } from './services'

export interface Subject {
  readonly issuer: string
  readonly tenant: string
  readonly subject: string
}

/** Revokes one access token by jti until `expiresAt` (its exp, or the horizon when unknown). */
export async function revokeAccessToken(
  s: Services,
  who: Subject,
  jti: string,
  expiresAt: number,
): Promise<void> {
  await s.shards(who.issuer, who.tenant, who.subject).revokeJti(jti, expiresAt)
}

/**
 * Kills every token of a subject issued up to now (logout everywhere, password change,
 * disabled account) and, for our own users, ends every session so no refresh brings one back.
 */
export async function revokeSubject(
  s: Services,
  who: Subject,
  reason: EndReason,
  sink: EventSink,
  actor: string | null,
): Promise<number> {
  const now = Math.floor(s.now() / 1000)
  await s
    .shards(who.issuer, who.tenant, who.subject)
    .revokeSubjectBefore(now, tokenHorizon(s.config, now))
  let ended = 0
  if (s.config.auth.enabled && who.issuer === s.config.auth.issuer) {
    for (const shard of s.sessionShards.forUser(who.subject)) {
      for (const sid of await activeSessionIds(shard.db, who.subject)) {
        await endSession(s, { sid, userId: who.subject, tenant: who.tenant }, reason, sink, actor)
        ended++
      }
    }
  }
  emitSecurityEvent(sink, {
    type: 'session_revoked',
    tenant: who.tenant,
    user_id: who.subject,
    reason,
    actor,
    scope: 'subject',
  })
  return ended
}
