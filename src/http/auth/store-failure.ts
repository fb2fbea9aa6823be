// The auth endpoints depend on D1 and Durable Objects. When one of them fails mid-flow the
// answer is a retryable 503 — not a 500, and never a revocation: a rotation batch that failed
// consumed nothing, so the client's retry with the same token is safe.

import { AuthError } from '../../lib/errors'
import { logLine } from '../../observability/log'

/** Runs an auth flow; an unexpected (infrastructure) error becomes 503 store_unavailable. */
export async function withStoreFailuresAs503<T>(flow: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (err) {
    if (err instanceof AuthError) throw err
    logLine('error', 'auth_store_failed', {
      flow,
      error: err instanceof Error ? err.name : 'unknown',
      // Frames only: a message can quote input, and input may be a secret.
      at: err instanceof Error ? (err.stack ?? '').split('\n').slice(1, 3).join(' | ') : null,
    })
    throw new AuthError('store_unavailable', {
      detail: `${flow} dependency failed`,
      retryAfterSeconds: 1,
    })
  }
}
