// Rotating our signing keys on demand (admin API, runbook). The KeyManager changes the keys and
// rewrites the KV copy; this isolate drops what it cached at once — the removed key and the
// signer — and every other isolate re-reads the KV copy within SELF_ISSUER_REVALIDATE_MS
// (plus KV's propagation delay of up to a minute).

import type { RotationResult } from '../../keys/key-manager'
import { emitSecurityEvent, type EventSink } from '../../observability/security-events'
import type { Services } from '../services'

export async function rotateSigningKeys(
  s: Services,
  emergency: boolean,
  sink: EventSink,
  kid: string | null = null,
): Promise<RotationResult> {
  const result = await s.keyManager().rotate(s.keySettings, emergency, s.now(), kid)
  const issuer = s.config.auth.issuer
  if (result.removed !== null) s.keyStore.evict(issuer, result.removed)
  s.keyStore.forget(issuer)
  s.signer.forget()
  if (result.rotated) {
    emitSecurityEvent(sink, {
      type: emergency ? 'signing_key_emergency_rotation' : 'signing_key_rotated',
      kid: result.current,
      removed_kid: result.removed,
    })
  }
  return result
}
