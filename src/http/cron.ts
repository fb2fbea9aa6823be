// The cron trigger: time-driven upkeep that needs no request — the signing-key lifecycle (the
// KeyManager's own alarm does the same; the cron is the safety net), bounded deletion of expired
// sessions, refresh tokens and login counters on every session shard, and of audit events past
// their retention. A broken config was logged when the isolate's services were built; the cron
// then does nothing.

import { ConfigError } from '../config/config'
import type { Env } from '../config/env'
import { pruneThrottle } from '../accounts/login-throttle'
import { pruneAuditEvents } from '../observability/audit-consumer'
import { logLine } from '../observability/log'
import { deleteExpired } from '../sessions/session-store'
import { deleteExpiredChallenges } from '../factors/challenge-store'
import { deleteStalePendingFactors } from '../factors/factor-store'
import { servicesFor } from './services'

export async function runCron(env: Env): Promise<void> {
  const s = servicesFor(env)
  if (s instanceof ConfigError) return
  // The origin-assertion keys rotate on their own schedule, auth server or not.
  const assertion = s.assertionKeys
  const assertionKeys =
    assertion === null
      ? null
      : assertion
          .manager()
          .advance(assertion.settings)
          .then(
            () => 'fulfilled',
            () => 'rejected',
          )
  if (!s.config.auth.enabled) {
    logLine('info', 'cron', { assertion_keys: await assertionKeys })
    return
  }
  const now = Math.floor(s.now() / 1000)
  const shards = s.sessionShards.all
  const [keys, audit, ...cleanups] = await Promise.allSettled([
    s.keyManager().advance(s.keySettings),
    pruneAuditEvents(s.auditDb, now - s.config.storage.auditRetentionSeconds),
    ...shards.map(async (shard) => {
      const [removed, challenges, pending] = await Promise.all([
        deleteExpired(shard.db, now),
        deleteExpiredChallenges(shard.db, now),
        // An authenticator app never confirmed within its challenge lifetime is dropped.
        deleteStalePendingFactors(shard.db, now - s.config.auth.mfa.challengeTtlSeconds),
        pruneThrottle(shard.db, now),
      ])
      return removed + challenges + pending
    }),
  ])
  // Each shard is cleaned on its own: one that is down is retried by the next run.
  const removed = cleanups.map((c) => (c.status === 'fulfilled' ? c.value : 0))
  logLine('info', 'cron', {
    keys: keys.status,
    expired_rows_removed: removed.reduce((a, b) => a + b, 0),
    cleanup: cleanups.every((c) => c.status === 'fulfilled') ? 'fulfilled' : 'rejected',
    shards_failed: shards
      .filter((_, i) => cleanups[i]?.status === 'rejected')
      .map((x) => x.name)
      .join(' '),
    audit_events_removed: audit.status === 'fulfilled' ? audit.value : null,
    assertion_keys: await assertionKeys,
  })
}
