// Rotating our signing keys on demand (admin API, runbook). The KeyManager changes the keys and
// rewrites the KV copy; this isolate drops what it cached at once — the removed key and the
// signer — and every other isolate re-reads the KV copy within SELF_ISSUER_REVALIDATE_MS
// (plus KV's propagation delay of up to a minute).

import type { Config } from '../../config/config'
import type { Env } from '../../config/env'
import { emitSecurityEvent, type EventSink } from '../../observability/security-events'
import { getKeyManager, keyManagerSettings, type RotationResult } from '../../keys/key-manager'
import { keyStore } from '../../keys/key-store'
import { forgetSigner } from '../../keys/signer'

export async function rotateSigningKeys(
  env: Env,
  config: Config,
  emergency: boolean,
  sink: EventSink,
  kid: string | null = null,
): Promise<RotationResult> {
  const result = await getKeyManager(env).rotate(
    keyManagerSettings(config),
    emergency,
    Date.now(),
    kid,
  )
  if (result.removed !== null) keyStore.evict(config.auth.issuer, result.removed)
  keyStore.forget(config.auth.issuer)
  forgetSigner()
  if (result.rotated) {
    emitSecurityEvent(sink, {
      type: emergency ? 'signing_key_emergency_rotation' : 'signing_key_rotated',
      kid: result.current,
      removed_kid: result.removed,
    })
  }
  return result
}
