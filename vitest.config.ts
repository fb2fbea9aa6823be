import path from 'node:path'
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers'
import { defineConfig } from 'vitest/config'

// Test-only secrets: random enough to pass config validation, never used outside tests.
const TEST_SECRETS = {
  ORIGIN_SECRET_DEMO: 'test-origin-secret-demo-0123456789abcdef',
  ORIGIN_SECRET_TEST: 'test-origin-secret-test-0123456789abcdef',
  KEY_ENCRYPTION_SECRET: 'test-key-encryption-secret-0123456789abcdef',
  PASSWORD_PEPPER: 'test-password-pepper-0123456789abcdef',
  METRICS_SCRAPE_SECRET: 'test-metrics-scrape-secret-0123456789abcdef',
}

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, 'migrations/sessions'))
  const auditMigrations = await readD1Migrations(path.join(import.meta.dirname, 'migrations/audit'))
  return {
    plugins: [
      cloudflareTest({
        main: './src/index.ts',
        wrangler: { configPath: './wrangler.toml' },
        miniflare: { bindings: {
            ...TEST_SECRETS,
            TEST_MIGRATIONS: migrations,
            TEST_AUDIT_MIGRATIONS: auditMigrations,
          }, },
      }),
    ],
    test: {
      include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
      setupFiles: ['./test/helpers/apply-migrations.ts'],
      // The gateway logs one JSON line per request; keep test output readable.
      onConsoleLog: (log: string) => !log.startsWith('{"ts":'),
    },
  }
})
