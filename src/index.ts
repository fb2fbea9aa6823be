// Entry point: the Worker's handlers and its Durable Object classes.

import { handleFetch } from './http/entry'
import { runCron } from './http/cron'
import { runQueue } from './http/queue'
import type { Env } from './config/env'

export { KeyManager } from './keys/key-manager'
export { RevocationShard } from './revocation/revocation-shard'
export { MetricsAggregator } from './observability/metrics-aggregator'

export default {
  fetch: handleFetch,
  scheduled: (_controller, env, ctx) => ctx.waitUntil(runCron(env)),
  queue: (batch, env) => runQueue(batch, env),
} satisfies ExportedHandler<Env>
