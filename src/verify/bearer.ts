// Access-token extraction (RFC 6750 §2.1, RFC 9449 §7.1): from the Authorization header only,
// scheme `Bearer` or `DPoP` (case-insensitive), exactly one credential of b64token characters. Tokens in the query string
// (§2.3) or a form body (§2.2) are refused rather than ignored, so a client that leaks tokens
// into URLs and logs finds out at once; cookies are never read as access tokens.

import { AuthError } from '../lib/errors'
import { MAX_TOKEN_LENGTH } from './compact-jws'

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token (RFC 9449 §7.1: the same after "DPoP")
const CREDENTIAL = /^(bearer|dpop) +([A-Za-z0-9\-._~+/]+=*)$/i

export interface PresentedAccessToken {
  readonly scheme: 'Bearer' | 'DPoP'
  readonly token: string
}

/** Returns the bearer token of a request (see extractAccessToken); a DPoP credential is refused. */
export function extractBearerToken(authorization: string | null, search: string): string {
  const presented = extractAccessToken(authorization, search)
  if (presented.scheme !== 'Bearer') {
    throw new AuthError('invalid_request', { detail: 'not a single Bearer credential' })
  }
  return presented.token
}

/**
 * Returns the access token of a request and its scheme. Throws AuthError missing_token (no
 * credential), invalid_request (other scheme, several credentials, token in the query) or
 * token_too_large.
 */
export function extractAccessToken(
  authorization: string | null,
  search: string,
): PresentedAccessToken {
  if (search.length > 1 && hasAccessTokenParam(search)) {
    throw new AuthError('invalid_request', { detail: 'access_token in the query string' })
  }
  if (authorization === null || authorization === '') throw new AuthError('missing_token')
  // Length is checked before the regex so an oversized header costs nothing more.
  if (authorization.length > MAX_TOKEN_LENGTH + 16) throw new AuthError('token_too_large')
  const match = CREDENTIAL.exec(authorization)
  // Duplicate Authorization headers arrive joined by ", ", which no b64token contains.
  if (match === null) {
    throw new AuthError('invalid_request', { detail: 'not a single Bearer or DPoP credential' })
  }
  const scheme = (match[1] as string).toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer'
  return { scheme, token: match[2] as string }
}

function hasAccessTokenParam(search: string): boolean {
  if (!/access|%/i.test(search)) return false // the common case: no parsing at all
  for (const part of search.slice(1).split('&')) {
    const name = part.split('=', 1)[0] ?? ''
    if (safeDecode(name).toLowerCase() === 'access_token') return true
  }
  return false
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '))
  } catch {
    return text
  }
}
