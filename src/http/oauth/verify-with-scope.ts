// Verifying a token that arrived as a parameter (RFC 7009, RFC 7662) rather than as a bearer
// credential: an invalid token is simply "not active" (null); only a key that cannot be known
// right now is an error (503), because then the honest answer is "try again".

import { AuthError } from '../../lib/errors'
import type { RequestScope } from '../request-context'
import { verifyToken } from '../authenticate'
import type { VerifiedToken } from '../../verify/verify-token'

export async function verifyWithScope(
  token: string,
  scope: RequestScope,
): Promise<VerifiedToken | null> {
  try {
    return await verifyToken(token, scope)
  } catch (err) {
    if (err instanceof AuthError && err.reason !== 'key_unavailable') return null
    throw err
  }
}
