// POST /auth/logout: ends the caller's session everywhere at once, identified either by an
// access token of ours (Authorization) or by the refresh token (cookie or mobile body). An
// unknown refresh token is already logged out: 204, nothing revealed.

import { AuthError } from '../../lib/errors'
import { emitSecurityEvent } from '../../observability/security-events'
import type { RequestContext } from '../request-context'
import { splitRequestTarget } from '../../proxy/request-target'
import { authenticate } from '../authenticate'
import { clearedRefreshCookie, corsHeaders } from './browser-policy'
import { endSession } from '../end-session'
import { readPresentedToken } from './presented-token'
import { lookupRefreshToken } from '../shard-lookup'
import type { Session } from '../../sessions/session-store'
import { withStoreFailuresAs503 } from './store-failure'

export function logout(request: Request, rc: RequestContext): Promise<Response> {
  return withStoreFailuresAs503('logout', () => logoutFlow(request, rc))
}

async function logoutFlow(request: Request, rc: RequestContext): Promise<Response> {
  const { config } = rc
  const session = await sessionOf(request, rc)
  if (session !== null) {
    rc.record.sid = session.sid
    await endSession(rc.services, session, 'logout', rc.events, 'user')
  }
  return new Response(null, {
    status: 204,
    headers: {
      'cache-control': 'no-store',
      'set-cookie': clearedRefreshCookie(config.auth),
      ...corsHeaders(request.headers, config.auth),
    },
  })
}

type SessionRef = Pick<Session, 'sid' | 'userId' | 'tenant'>

async function sessionOf(request: Request, rc: RequestContext): Promise<SessionRef | null> {
  if (request.headers.has('authorization')) {
    const token = await authenticate(request, splitRequestTarget(request.url).search, [], rc)
    if (!token.issuer.self || token.sessionId === null) {
      throw new AuthError('invalid_request', {
        detail: 'logout needs an access token issued by this gateway',
      })
    }
    return { sid: token.sessionId, userId: token.subject, tenant: token.tenant }
  }
  const presented = await readPresentedToken(request, rc.config.auth)
  const context = await lookupRefreshToken(rc.services, presented.token)
  if (context === null) return null
  if (context.session.deviceId !== presented.deviceId && presented.client === 'mobile') {
    emitSecurityEvent(rc.events, {
      type: 'refresh_suspicious',
      sid: context.session.sid,
      reason: 'device_mismatch_on_logout',
    })
  }
  return context.session
}
