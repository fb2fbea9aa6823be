import type { D1Migration } from 'cloudflare:test'
import type { Env as GatehouseEnv } from '../src/config/env'

declare global {
  namespace Cloudflare {
    interface Env extends GatehouseEnv {
      TEST_MIGRATIONS: D1Migration[]
      TEST_AUDIT_MIGRATIONS: D1Migration[]
      /** The test profile's session shards and audit database (wrangler.toml). */
      SESSIONS_0: D1Database
      SESSIONS_1: D1Database
      AUDIT_DB: D1Database
      ORIGIN_SECRET_TEST: string
    }
  }
}
