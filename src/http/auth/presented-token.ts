// How a client presents its refresh token: a mobile app in the JSON body with its device id; a
// browser only in the HttpOnly cookie, and only from an allowed Origin — checked before the token
// is read, so a forged cross-site request cannot consume (and so burn) the user's token.

import type { AuthConfig } from '../../config/auth'
import { AuthError } from '../../lib/errors'
import { assertBrowserOrigin, readRefreshCookie } from './browser-policy'
import { DEVICE_ID } from './client-context'
import { readJsonObject, stringField } from '../../lib/json-body'
import type { ClientType } from '../../sessions/session-store'

export interface Presented {
  readonly token: string
  readonly client: ClientType
  readonly deviceId: string | null
}

/** Reads the presented refresh token; throws AuthError bad_request | origin_not_allowed | invalid_grant. */
export async function readPresentedToken(request: Request, auth: AuthConfig): Promise<Presented> {
  const isJson = /^application\/json/i.test(request.headers.get('content-type') ?? '')
  if (isJson) {
    const body = await readJsonObject(request)
    if (body.refresh_token !== undefined) {
      const deviceId = stringField(body, 'device_id', 128)
      if (!DEVICE_ID.test(deviceId)) throw new AuthError('bad_request', { detail: 'device_id' })
      return { token: stringField(body, 'refresh_token', 200), client: 'mobile', deviceId }
    }
  }
  // Cookie-authenticated: the Origin check comes first.
  assertBrowserOrigin(request.headers, auth, true)
  const token = readRefreshCookie(request.headers.get('cookie'), auth.cookieName)
  if (token === null) throw new AuthError('invalid_grant', { detail: 'no refresh cookie' })
  return { token, client: 'web', deviceId: null }
}
