// The Worker's bindings as declared in wrangler.toml. Secrets named by the configuration (origin
// secrets, KEY_ENCRYPTION_SECRET, PASSWORD_PEPPER) arrive as extra string properties.
// GATEHOUSE_PROFILE names the bundled config/<profile>.json; GATEHOUSE, when set, overrides it.

import type { KeyManager } from '../keys/key-manager'
import type { RevocationShard } from '../revocation/revocation-shard'
import type { MetricsAggregator } from '../observability/metrics-aggregator'

export interface Env {
  /** Which bundled configuration to use: `demo` or `production` (config/<name>.json). */
  readonly GATEHOUSE_PROFILE?: string
  /** A whole configuration document (object or JSON string) that overrides the profile. */
  readonly GATEHOUSE?: unknown
  readonly JWKS_CACHE: KVNamespace
  /**
   * D1 databases are bound under the names the configuration gives them (storage.session_shards,
   * storage.audit_database): looked up by name, like secrets.
   */
  readonly KEYS: DurableObjectNamespace<KeyManager>
  readonly REVOCATIONS: DurableObjectNamespace<RevocationShard>
  readonly METRICS_AGGREGATOR: DurableObjectNamespace<MetricsAggregator>
  readonly AUTH_EVENTS: Queue
  readonly METRICS?: AnalyticsEngineDataset
  readonly [secret: string]: unknown
}
