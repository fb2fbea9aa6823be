// What a browser may do with the refresh cookie. The cookie is HttpOnly, Secure, SameSite=Strict,
// __Secure- prefixed and scoped to Path=/auth, so it never travels to /api/*. A request it
// authenticates must come from an allowed Origin, and a cross-site fetch (Sec-Fetch-Site) is
// refused, before the token is even looked at. CORS answers only configured origins, with
// credentials, and never `*`.
// Our own code rather than Hono's cookie and CORS helpers, on purpose: hono/cookie's parser keeps
// one value when a name repeats, but a duplicate refresh cookie (tossed from a sibling domain)
// must be refused, not silently chosen; and hono/cors answers a disallowed preflight with 204
// and no grant, where /auth refuses it through the reason table (403 origin_not_allowed).

import type { AuthConfig } from '../../config/auth'
import { AuthError } from '../../lib/errors'

/** The refresh cookie from a Cookie header: null if absent; AuthError if sent more than once. */
export function readRefreshCookie(cookieHeader: string | null, name: string): string | null {
  if (cookieHeader === null) return null
  let found: string | null = null
  for (const part of cookieHeader.split(/[;,]/)) {
    const eq = part.indexOf('=')
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue
    // Two cookies of our name (a tossed or stale duplicate): which one is real cannot be known.
    if (found !== null) throw new AuthError('bad_request', { detail: 'duplicate refresh cookie' })
    found = part.slice(eq + 1).trim()
  }
  return found
}

/** Set-Cookie value carrying a refresh token for `maxAgeSeconds`. */
export function refreshCookie(auth: AuthConfig, token: string, maxAgeSeconds: number): string {
  return `${auth.cookieName}=${token}; Path=${auth.cookiePath}; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}; HttpOnly; Secure; SameSite=Strict`
}

/** Set-Cookie value that deletes the refresh cookie. */
export function clearedRefreshCookie(auth: AuthConfig): string {
  return `${auth.cookieName}=; Path=${auth.cookiePath}; Max-Age=0; HttpOnly; Secure; SameSite=Strict`
}

/**
 * Refuses a browser request from anywhere but an allowed origin. `required`: the request is
 * authenticated by the cookie, so an Origin header must be present (browsers always send it on
 * POST). Throws AuthError origin_not_allowed.
 */
export function assertBrowserOrigin(headers: Headers, auth: AuthConfig, required: boolean): void {
  if (headers.get('sec-fetch-site') === 'cross-site') {
    throw new AuthError('origin_not_allowed', { detail: 'sec-fetch-site cross-site' })
  }
  const origin = headers.get('origin')
  if (origin === null) {
    if (required)
      throw new AuthError('origin_not_allowed', { detail: 'no Origin on a cookie request' })
    return
  }
  if (!auth.allowedOrigins.includes(origin)) {
    throw new AuthError('origin_not_allowed', { detail: 'origin not in allowed_origins' })
  }
}

/** CORS response headers for an allowed origin; empty for any other (the browser then blocks). */
export function corsHeaders(headers: Headers, auth: AuthConfig): Record<string, string> {
  const origin = headers.get('origin')
  if (origin === null || !auth.allowedOrigins.includes(origin)) return {}
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-credentials': 'true',
    // A DPoP client reads the nonce to retry with and the challenge that names the error.
    'access-control-expose-headers': 'DPoP-Nonce, WWW-Authenticate, Date',
    vary: 'Origin',
  }
}

/** Answers a CORS preflight for the auth endpoints. */
export function preflight(headers: Headers, auth: AuthConfig): Response {
  const cors = corsHeaders(headers, auth)
  if (Object.keys(cors).length === 0) {
    throw new AuthError('origin_not_allowed', {
      detail: 'preflight from an origin not in allowed_origins',
      headers: { vary: 'Origin' },
    })
  }
  return new Response(null, {
    status: 204,
    headers: {
      ...cors,
      // GET and DELETE: listing and removing one's second factors (/auth/factors).
      'access-control-allow-methods': 'GET, POST, DELETE',
      'access-control-allow-headers': 'content-type, authorization, dpop',
      'access-control-max-age': '600',
    },
  })
}
