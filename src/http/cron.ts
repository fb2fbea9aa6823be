// The cron trigger: time-driven upkeep that needs no request — the signing-key lifecycle (the
// KeyManager's own alarm does the same; the cron is the safety net) and bounded deletion of
// expired sessions, refresh tokens and login counters.

import { ConfigError, loadConfig } from '../config/config'
import type { Env } from '../config/env'
import { getKeyManager, keyManagerSettings } from '../keys/key-manager'
import { logLine } from '../observability/log'
import { pruneThrottle } from '../accounts/login-throttle'
import { deleteExpired } from '../sessions/session-store'

export async function runCron(env: Env): Promise<void> {
  const config = loadConfig(env)
  if (config instanceof ConfigError) {
    logLine('error', 'config_invalid', { field: config.field, message: config.message })
    return
  }
  if (!config.auth.enabled) return
  const now = Math.floor(Date.now() / 1000)
  const [keys, removed] = await Promise.allSettled([
    getKeyManager(env).advance(keyManagerSettings(config)),
    deleteExpired(env.DB, now),
    pruneThrottle(env.DB, now),
  ])
  logLine('info', 'cron', {
    keys: keys.status,
    expired_rows_removed: removed.status === 'fulfilled' ? removed.value : null,
    cleanup: removed.status,
  })
}
