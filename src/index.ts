// Entry point: the Worker's handlers and its Durable Object classes.

import { app } from './app'
import { runCron } from './cron'
import type { Env } from './env'

export { KeyManager } from './keys/key-manager'
export { RevocationShard } from './revocation/revocation-shard'

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  scheduled: (_controller, env, ctx) => ctx.waitUntil(runCron(env)),
} satisfies ExportedHandler<Env>
