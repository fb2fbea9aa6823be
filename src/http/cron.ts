// The cron trigger: time-driven upkeep that needs no request — the signing-key lifecycle (the
// KeyManager's own alarm does the same; the cron is the safety net) and bounded deletion of
// expired sessions, refresh tokens and login counters. A broken config was logged when the
// isolate's services were built; the cron then does nothing.

import { ConfigError } from '../config/config'
import type { Env } from '../config/env'
import { pruneThrottle } from '../accounts/login-throttle'
import { logLine } from '../observability/log'
import { deleteExpired } from '../sessions/session-store'
import { servicesFor } from './services'

export async function runCron(env: Env): Promise<void> {
  const s = servicesFor(env)
  if (s instanceof ConfigError || !s.config.auth.enabled) return
  const now = Math.floor(s.now() / 1000)
  const [keys, removed] = await Promise.allSettled([
    s.keyManager().advance(s.keySettings),
    deleteExpired(s.db, now),
    pruneThrottle(s.db, now),
  ])
  logLine('info', 'cron', {
    keys: keys.status,
    expired_rows_removed: removed.status === 'fulfilled' ? removed.value : null,
    cleanup: removed.status,
  })
}
