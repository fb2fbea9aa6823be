import { applyD1Migrations, env } from 'cloudflare:test'

// Idempotent: applyD1Migrations records what it applied, so every test file can call it. Every
// session shard gets the session migrations; the audit database its own.
await Promise.all([
  applyD1Migrations(env.SESSIONS_0, env.TEST_MIGRATIONS),
  applyD1Migrations(env.SESSIONS_1, env.TEST_MIGRATIONS),
  applyD1Migrations(env.AUDIT_DB, env.TEST_AUDIT_MIGRATIONS),
])
