// Explaining a token to an operator: runs the same verification the gateway runs (and the
// revocation check a critical route would), then reports the verdict, the first failing check
// with its internal detail, and the unverified header and identity claims so the operator can
// see *why* (wrong aud, clock skew, unknown kid …). The token itself is never echoed.

import { AuthError, type Reason } from '../../lib/errors'
import { recordTarget } from '../authenticate'
import { nowSeconds, type RequestContext } from '../request-context'
import { decodeBase64Url } from '../../lib/base64url'

const SHOWN_CLAIMS = [
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'sid',
  'tid',
  'scope',
  'client_id',
]
const SHOWN_HEADER = ['alg', 'kid', 'typ']

export interface Explanation {
  readonly valid: boolean
  readonly reason: Reason | null
  readonly detail: string | null
  readonly revocation: string | null
  readonly header: Record<string, unknown> | null
  readonly claims: Record<string, unknown> | null
  readonly now: number
}

function peek(
  segment: string | undefined,
  fields: readonly string[],
): Record<string, unknown> | null {
  const bytes = segment === undefined ? null : decodeBase64Url(segment)
  if (bytes === null) return null
  try {
    const value = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>
    if (typeof value !== 'object' || value === null) return null
    return Object.fromEntries(fields.filter((f) => f in value).map((f) => [f, value[f]]))
  } catch {
    return null
  }
}

export async function explainToken(token: string, rc: RequestContext): Promise<Explanation> {
  const [h, p] = token.split('.')
  const base = {
    header: peek(h, SHOWN_HEADER),
    claims: peek(p, SHOWN_CLAIMS),
    now: nowSeconds(rc),
  }
  try {
    // The inspected token is not the caller: verify it without recording it as the actor.
    const verified = recordTarget(rc.record, await rc.services.verifier.verify(token, rc.waitUntil))
    const revocation = await rc.services.revocation.check(verified, 'critical')
    return { ...base, valid: true, reason: null, detail: null, revocation }
  } catch (err) {
    if (!(err instanceof AuthError)) throw err
    return {
      ...base,
      valid: false,
      reason: err.reason,
      detail: err.options.detail ?? null,
      revocation: null,
    }
  }
}
