// The Hono app: middleware order, the gateway's own endpoints, the proxy catch-all, and the
// single error exit. Every expected failure is an AuthError turned into a response here; any
// other exception is a 500 with nothing of its message on the wire. Handlers receive the
// request and its RequestScope, never the Hono context.

import { Hono, type MiddlewareHandler } from 'hono'
import { AuthError, errorResponse } from './errors'
import { jwksResponse, metadataResponse } from './keys/well-known'
import { logLine } from './observability/log'
import { proxyRequest } from './proxy/proxy-handler'
import { requestContext, type AppEnv } from './request-middleware'
import { corsHeaders, preflight } from './sessions/browser-policy'
import { login } from './sessions/login'
import { logout } from './sessions/logout'
import { refresh } from './sessions/refresh'

/** Gateway endpoints that exist only when this gateway is an issuer (a `self` issuer). */
const requireAuthServer: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!c.var.scope.config.auth.enabled) throw new AuthError('route_not_found')
  await next()
}

/** Browsers on allowed origins may read auth answers, errors included. */
const authCors: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next()
  const cors = corsHeaders(c.req.raw.headers, c.var.scope.config.auth)
  for (const [name, value] of Object.entries(cors)) c.res.headers.set(name, value)
}

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  app.use('*', requestContext)
  app.get('/healthz', (c) => c.json({ status: 'ok' }, 200, { 'cache-control': 'no-store' }))

  app.use('/.well-known/*', requireAuthServer)
  app.get('/.well-known/jwks.json', (c) => jwksResponse(c.env, c.var.scope.config))
  app.get('/.well-known/oauth-authorization-server', (c) => metadataResponse(c.var.scope.config))

  app.use('/auth/*', requireAuthServer, authCors)
  app.options('/auth/*', (c) => preflight(c.req.raw.headers, c.var.scope.config.auth))
  app.post('/auth/login', (c) => login(c.req.raw, c.var.scope))
  app.post('/auth/refresh', (c) => refresh(c.req.raw, c.var.scope))
  app.post('/auth/logout', (c) => logout(c.req.raw, c.var.scope))

  app.all('*', (c) => proxyRequest(c.req.raw, c.var.scope))
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
