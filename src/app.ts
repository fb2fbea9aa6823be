// The Hono app: middleware order, the gateway's own endpoints, the proxy catch-all, and the
// single error exit. Every expected failure is an AuthError turned into a response here; any
// other exception is a 500 with nothing of its message on the wire.

import { Hono } from 'hono'
import { requestContext, type AppEnv } from './app-context'
import { AuthError, errorResponse } from './errors'
import { logLine } from './observability/log'
import { proxyRequest } from './proxy/proxy-handler'

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  app.use('*', requestContext)
  app.get('/healthz', (c) => c.json({ status: 'ok' }, 200, { 'cache-control': 'no-store' }))
  app.all('*', proxyRequest)
  app.onError((err, c) => {
    const record = c.var.record
    if (err instanceof AuthError) {
      if (record) {
        record.reason = err.reason
        record.detail = err.options.detail ?? null
      }
      return errorResponse(err)
    }
    if (record) record.reason = 'internal'
    logLine('error', 'unhandled_error', {
      request_id: c.var.requestId ?? null,
      error: err instanceof Error ? err.name : 'unknown',
      // Frames only: a message can quote input (JSON.parse does), and input may be a secret.
      at: err instanceof Error ? (err.stack ?? '').split('\n').slice(1, 4).join(' | ') : null,
    })
    return errorResponse(new AuthError('internal'))
  })
  return app
}

export const app = createApp()
