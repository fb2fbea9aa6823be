// The one shape of a successful login or refresh answer (RFC 6749 §5.1): JSON with the access
// token, `Cache-Control: no-store`, and the refresh token either in an HttpOnly cookie (web) or
// in the body (mobile) — never both, and never in a browser's JSON.

import type { AuthConfig } from '../../config/auth'
import type { MintedAccessToken } from '../../keys/signer'
import { corsHeaders, refreshCookie } from './browser-policy'
import type { ClientType } from '../../sessions/session-store'

export interface IssuedTokens {
  readonly access: MintedAccessToken
  readonly scope: string
  readonly refreshToken: string
  /** Seconds until the session's absolute expiry (cookie Max-Age). */
  readonly refreshMaxAge: number
  readonly client: ClientType
  /** DPoP when the tokens are bound to the client's key (RFC 9449 §5), else Bearer. */
  readonly tokenType: 'Bearer' | 'DPoP'
  /** Extra headers (a fresh DPoP-Nonce when the deployment uses nonces). */
  readonly headers?: Record<string, string>
}

export function tokenResponse(request: Request, auth: AuthConfig, issued: IssuedTokens): Response {
  const headers = new Headers({
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    pragma: 'no-cache',
    ...corsHeaders(request.headers, auth),
    ...issued.headers,
  })
  const body: Record<string, unknown> = {
    access_token: issued.access.token,
    token_type: issued.tokenType,
    expires_in: issued.access.expiresIn,
    scope: issued.scope,
  }
  if (issued.client === 'mobile') body.refresh_token = issued.refreshToken
  else headers.append('set-cookie', refreshCookie(auth, issued.refreshToken, issued.refreshMaxAge))
  return new Response(JSON.stringify(body), { status: 200, headers })
}

/** Scopes granted now: the session's grant, narrowed to what the user still holds. */
export function grantedScope(sessionScope: string, userScopes: readonly string[]): string {
  if (sessionScope === '') return ''
  return sessionScope
    .split(' ')
    .filter((s) => userScopes.includes(s))
    .join(' ')
}
