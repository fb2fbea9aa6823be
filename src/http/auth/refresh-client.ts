// What a refresh says about the client presenting it: a DPoP-bound session must be refreshed by
// the key holder (RFC 9449 §5), and a change of country or browser is noted as suspicious.
// Neither ends a session: refresh.ts decides that.

import { AuthError } from '../../lib/errors'
import { emitSecurityEvent, type EventSink } from '../../observability/security-events'
import type { RefreshContext } from '../../sessions/refresh-store'
import type { Session } from '../../sessions/session-store'
import type { DpopProof } from '../../verify/dpop-proof'
import type { ClientContext } from './client-context'
import type { Presented } from './presented-token'

/**
 * A DPoP-bound session refreshes only with a proof by its key (RFC 9449 §5). A missing or
 * foreign proof is refused before anything is read or consumed, and the session lives on: the
 * token is useless without the key, so its arrival elsewhere is no reason to end the session
 * (unlike an unbound token from another device). A client type that must use DPoP cannot
 * refresh a bearer session (one from before the requirement): it logs in again.
 */
export function assertKeyHolder(
  session: Session,
  proof: DpopProof | null,
  presented: Presented,
  requiredFor: readonly string[],
  sink: EventSink,
): void {
  if (session.dpopJkt === null) {
    if (requiredFor.includes(presented.client)) {
      throw new AuthError('invalid_grant', { detail: 'bearer session where DPoP is required' })
    }
    return
  }
  if (proof !== null && proof.jkt === session.dpopJkt) return
  emitSecurityEvent(sink, {
    type: 'refresh_dpop_refused',
    tenant: session.tenant,
    user_id: session.userId,
    sid: session.sid,
    reason: proof === null ? 'proof_missing' : 'foreign_key',
  })
  throw new AuthError('invalid_dpop_proof', {
    detail: proof === null ? 'bound refresh token without a proof' : 'proof by another key',
    tokenEndpoint: true,
  })
}

export function noteSuspicious(context: RefreshContext, ctx: ClientContext, sink: EventSink): void {
  const s = context.session
  const countryChanged =
    ctx.country !== null && s.lastCountry !== null && ctx.country !== s.lastCountry
  const browserChanged =
    s.clientType === 'web' && s.userAgentHash !== null && s.userAgentHash !== ctx.userAgentHash
  if (!countryChanged && !browserChanged) return
  emitSecurityEvent(sink, {
    type: 'refresh_suspicious',
    tenant: s.tenant,
    user_id: s.userId,
    sid: s.sid,
    reason: countryChanged ? 'country_changed' : 'user_agent_changed',
    country: ctx.country,
    session_country: s.lastCountry,
  })
}
