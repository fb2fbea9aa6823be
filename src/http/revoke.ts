// Revocation actions shared by logout, the admin API, RFC 7009 and account changes. Each writes
// the subject's RevocationShard (which every standard/critical route consults) and, for our own
// users, the D1 session rows (which every refresh consults), so the two always agree.

import { tokenHorizon, type Config } from '../config/config'
import type { Env } from '../config/env'
import { emitSecurityEvent, type EventSink } from '../observability/security-events'
import { endSession } from './end-session'
import { activeSessionIds } from '../sessions/session-store'
import { getRevocationShard } from '../revocation/revocation-shard'

export interface Subject {
  readonly issuer: string
  readonly tenant: string
  readonly subject: string
}

/** Revokes one access token by jti until `expiresAt` (its exp, or the horizon when unknown). */
export async function revokeAccessToken(
  env: Env,
  who: Subject,
  jti: string,
  expiresAt: number,
): Promise<void> {
  await getRevocationShard(env, who.issuer, who.tenant, who.subject).revokeJti(jti, expiresAt)
}

/**
 * Kills every token of a subject issued up to now (logout everywhere, password change,
 * disabled account) and, for our own users, ends every session so no refresh brings one back.
 */
export async function revokeSubject(
  env: Env,
  config: Config,
  who: Subject,
  reason: string,
  sink: EventSink,
  actor: string | null,
): Promise<number> {
  const now = Math.floor(Date.now() / 1000)
  await getRevocationShard(env, who.issuer, who.tenant, who.subject).revokeSubjectBefore(
    now,
    tokenHorizon(config, now),
  )
  let ended = 0
  if (config.auth.enabled && who.issuer === config.auth.issuer) {
    for (const sid of await activeSessionIds(env.DB, who.subject)) {
      await endSession(
        env,
        config,
        { sid, userId: who.subject, tenant: who.tenant },
        reason,
        sink,
        actor,
      )
      ended++
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
