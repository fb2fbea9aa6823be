// The AUTH_EVENTS queue handler: security events go to the audit database the configuration
// names (never a session shard). With a broken configuration nothing is written and the whole
// batch is retried, up to the consumer's max_retries (Cloudflare's default: 3); after that the
// batch is dropped, since no dead-letter queue is configured yet (docs/RUNBOOK.md § alerts).

import { ConfigError } from '../config/config'
import type { Env } from '../config/env'
import { consumeAuthEvents } from '../observability/audit-consumer'
import { servicesFor } from './services'

export async function runQueue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const s = servicesFor(env)
  if (s instanceof ConfigError) {
    batch.retryAll()
    return
  }
  await consumeAuthEvents(batch, s.auditDb)
}
