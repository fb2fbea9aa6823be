import type { D1Migration } from 'cloudflare:test'
import type { Env as GatehouseEnv } from '../src/config/env'

declare global {
  namespace Cloudflare {
    interface Env extends GatehouseEnv {
      TEST_MIGRATIONS: D1Migration[]
      ORIGIN_SECRET_TEST: string
    }
  }
}
