// Verifying a token that arrived as a parameter (RFC 7009, RFC 7662) rather than as a bearer
// credential: an invalid token is simply "not active" (null); only a key that cannot be known
// right now is an error (503), because then the honest answer is "try again". The inspected
// token is not the caller, so it is not recorded as the request's subject.

import { AuthError } from '../../lib/errors'
import type { VerifiedToken } from '../../verify/verify-token'
import { recordTarget } from '../authenticate'
import type { RequestContext } from '../request-context'

export async function verifyParameterToken(
  token: string,
  rc: RequestContext,
): Promise<VerifiedToken | null> {
  try {
    return recordTarget(rc.record, await rc.services.verifier.verify(token, rc.waitUntil))
  } catch (err) {
    if (err instanceof AuthError && err.reason !== 'key_unavailable') return null
    throw err
  }
}
