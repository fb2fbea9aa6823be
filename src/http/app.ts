// The Hono app: middleware order, the gateway's own endpoints, the proxy catch-all, and the
// single error exit. Every expected failure is an AuthError turned into a response here; any
// other exception is a 500 with nothing of its message on the wire. Handlers receive the
// request and its RequestContext, never the Hono context; each endpoint names its route label.

import { Hono, type Context, type MiddlewareHandler } from 'hono'
import {
  adminChangeUser,
  adminCreateUser,
  adminKeyStatus,
  adminRotateKeys,
} from './admin/admin-accounts'
import { adminListUsers } from './admin/admin-users'
import { adminEndSession, adminListSessions, adminRevoke } from './admin/admin-sessions'
import { demoClientResponse, demoPageResponse } from './demo-page'
import { AuthError } from '../lib/errors'
import { assertionJwksResponse, jwksResponse, metadataResponse } from './well-known'
import { introspectEndpoint } from './oauth/introspection-endpoint'
import { revokeEndpoint } from './oauth/revocation-endpoint'
import { auditEventsEndpoint, explainEndpoint, metricsEndpoint } from './admin/admin-observability'
import { proxyRequest } from './proxy'
import {
  failureResponse,
  requestContext,
  type AppEnv,
  type RequestContext,
} from './request-context'
import { corsHeaders, preflight } from './auth/browser-policy'
import { login } from './auth/login'
import { logout } from './auth/logout'
import { refresh } from './auth/refresh'
import { completeMfaLogin } from './auth/mfa-login'
import { passkeyLogin, passkeyLoginOptions } from './auth/passkey-login'
import { passkeyRegistrationOptions, registerPasskey } from './auth/passkey-register'
import {
  confirmTotp,
  enrolTotp,
  listOwnFactors,
  removeFactor,
  renewRecoveryCodes,
} from './auth/factors'
import { stepUp, stepUpOptions } from './auth/step-up'
import { withStoreFailuresAs503 } from './auth/store-failure'

type Handler = (
  request: Request,
  rc: RequestContext,
  c: Context<AppEnv>,
) => Response | Promise<Response>

/** Wraps a handler: sets its route label (logs, metrics) and passes request and context. */
function endpoint(route: string, handler: Handler) {
  // The admin API reads D1 and the Durable Objects: their outage answers a retryable 503 with
  // Retry-After, as the auth endpoints do, never a 500.
  const run: Handler = route.startsWith('/admin/')
    ? (r, rc, c) => withStoreFailuresAs503('admin', async () => handler(r, rc, c))
    : handler
  return (c: Context<AppEnv>) => {
    c.var.record.route = route
    return run(c.req.raw, c.var.rc, c)
  }
}

/** Gateway endpoints that exist only when this gateway is an issuer (a `self` issuer). */
const requireAuthServer: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!c.var.rc.config.auth.enabled) throw new AuthError('route_not_found')
  await next()
}

/** Browsers on allowed origins may read auth answers, errors included. */
const authCors: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next()
  const cors = corsHeaders(c.req.raw.headers, c.var.rc.config.auth)
  for (const [name, value] of Object.entries(cors)) c.res.headers.set(name, value)
}

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  app.use('*', requestContext)
  app.get(
    '/healthz',
    endpoint('/healthz', () =>
      Response.json({ status: 'ok' }, { headers: { 'cache-control': 'no-store' } }),
    ),
  )
  app.get('/metrics', endpoint('/metrics', metricsEndpoint))
  app.get(
    '/demo',
    endpoint('/demo', (_request, rc) => {
      if (!rc.config.demoPage) throw new AuthError('route_not_found')
      return demoPageResponse()
    }),
  )
  app.get(
    '/demo/client/:file',
    endpoint('/demo/client', (_request, rc, c) => {
      if (!rc.config.demoPage) throw new AuthError('route_not_found')
      return demoClientResponse(c.req.param('file') ?? '')
    }),
  )

  // Origins verify EdDSA assertions with these keys, with or without an auth server.
  app.get(
    '/.well-known/origin-assertion-jwks.json',
    endpoint('/.well-known/origin-assertion-jwks.json', (_r, rc) =>
      assertionJwksResponse(rc.services),
    ),
  )
  app.use('/.well-known/*', requireAuthServer)
  app.get(
    '/.well-known/jwks.json',
    endpoint('/.well-known/jwks.json', (_r, rc) => jwksResponse(rc.services)),
  )
  app.get(
    '/.well-known/oauth-authorization-server',
    endpoint('/.well-known/oauth-authorization-server', (_r, rc) => metadataResponse(rc.config)),
  )

  app.use('/auth/*', requireAuthServer, authCors)
  app.options(
    '/auth/*',
    endpoint('/auth/*', (request, rc) => preflight(request.headers, rc.config.auth)),
  )
  app.post('/auth/login', endpoint('/auth/login', login))
  app.post('/auth/refresh', endpoint('/auth/refresh', refresh))
  app.post('/auth/logout', endpoint('/auth/logout', logout))
  app.post('/auth/revoke', endpoint('/auth/revoke', revokeEndpoint))
  app.post('/auth/introspect', endpoint('/auth/introspect', introspectEndpoint))
  // Second factors and step-up (README § Second factors and step-up).
  app.post('/auth/login/mfa', endpoint('/auth/login/mfa', completeMfaLogin))
  app.post(
    '/auth/passkeys/login/options',
    endpoint('/auth/passkeys/login/options', passkeyLoginOptions),
  )
  app.post('/auth/passkeys/login', endpoint('/auth/passkeys/login', passkeyLogin))
  app.post(
    '/auth/passkeys/register/options',
    endpoint('/auth/passkeys/register/options', passkeyRegistrationOptions),
  )
  app.post('/auth/passkeys/register', endpoint('/auth/passkeys/register', registerPasskey))
  app.get('/auth/factors', endpoint('/auth/factors', listOwnFactors))
  app.post('/auth/factors/totp', endpoint('/auth/factors/totp', enrolTotp))
  app.post('/auth/factors/totp/confirm', endpoint('/auth/factors/totp/confirm', confirmTotp))
  app.post(
    '/auth/factors/recovery-codes',
    endpoint('/auth/factors/recovery-codes', renewRecoveryCodes),
  )
  app.delete(
    '/auth/factors/:id',
    endpoint('/auth/factors/:id', (r, rc, c) => removeFactor(r, rc, c.req.param('id') ?? '')),
  )
  app.post('/auth/step-up/options', endpoint('/auth/step-up/options', stepUpOptions))
  app.post('/auth/step-up', endpoint('/auth/step-up', stepUp))

  // Admin API: every handler authenticates gatehouse:admin at tier critical itself.
  app.post('/admin/revocations', endpoint('/admin/revocations', adminRevoke))
  app.get('/admin/sessions', endpoint('/admin/sessions', adminListSessions))
  app.delete(
    '/admin/sessions/:sid',
    endpoint('/admin/sessions/:sid', (r, rc, c) =>
      adminEndSession(r, rc, c.req.param('sid') ?? ''),
    ),
  )
  app.post('/admin/users', endpoint('/admin/users', adminCreateUser))
  app.get('/admin/users', endpoint('/admin/users', adminListUsers))
  app.post(
    '/admin/users/:id/:action',
    endpoint('/admin/users/:id/:action', (r, rc, c) =>
      adminChangeUser(r, rc, c.req.param('id') ?? '', c.req.param('action') ?? ''),
    ),
  )
  app.post('/admin/keys/rotate', endpoint('/admin/keys/rotate', adminRotateKeys))
  app.get('/admin/keys', endpoint('/admin/keys', adminKeyStatus))
  app.get('/admin/audit-events', endpoint('/admin/audit-events', auditEventsEndpoint))
  app.post('/admin/explain', endpoint('/admin/explain', explainEndpoint))

  app.all('*', (c) => proxyRequest(c.req.raw, c.var.rc))
  app.onError((err, c) => failureResponse(err, c.var.record, c.var.requestId))
  return app
}

export const app = createApp()
