// The `token` and `token_type_hint` parameters of RFC 7009 and RFC 7662 requests, read from an
// application/x-www-form-urlencoded body as the RFCs specify (JSON is accepted too), size-capped.

import { readCappedBytes } from '../../lib/capped-body'
import { AuthError } from '../../lib/errors'
import { readJsonObject } from '../../lib/json-body'

const MAX_BODY_BYTES = 16 * 1024

export interface TokenParams {
  readonly token: string
  readonly hint: 'access_token' | 'refresh_token' | null
}

/** Throws AuthError bad_request (no token) | payload_too_large. */
export async function readTokenParams(request: Request): Promise<TokenParams> {
  const type = request.headers.get('content-type') ?? ''
  let token: unknown
  let hint: unknown
  if (/^application\/json/i.test(type)) {
    const body = await readJsonObject(request, MAX_BODY_BYTES)
    token = body.token
    hint = body.token_type_hint
  } else if (/^application\/x-www-form-urlencoded/i.test(type)) {
    const bytes = await readCappedBytes(request.body, MAX_BODY_BYTES)
    if (bytes === null) throw new AuthError('payload_too_large')
    const form = new URLSearchParams(new TextDecoder().decode(bytes))
    token = form.get('token')
    hint = form.get('token_type_hint')
  } else {
    throw new AuthError('bad_request', { detail: 'content-type must be form-urlencoded or JSON' })
  }
  if (typeof token !== 'string' || token.length === 0) {
    throw new AuthError('bad_request', { detail: 'token parameter missing' })
  }
  return { token, hint: hint === 'access_token' || hint === 'refresh_token' ? hint : null }
}

/** Refresh tokens start with their format tag; everything else is tried as an access token. */
export function looksLikeRefreshToken(token: string): boolean {
  return token.startsWith('ghr1.')
}
