// Single use of DPoP proofs (RFC 9449 §11.1), by risk tier like revocation: every proof's jti
// is first claimed in the isolate's own bounded cache (a replay to the same isolate costs
// nothing to refuse); on `standard` and `critical` routes it is then claimed globally, in the
// Durable Object of the proof key (sharded by thumbprint), through a timeout and that shard's
// circuit breaker. When that store cannot answer, `standard` fails open (counted, logged) and
// `critical` fails closed (503 + Retry-After) — the revocation policy's rules, not new ones.
// An entry lives only while its proof's iat is inside the acceptance window.

import { AuthError } from '../lib/errors'
import { countMetric } from '../observability/metrics'
import type { DpopProof } from '../verify/dpop-proof'
import { BreakerPool, FAIL_OPEN } from './breaker-pool'
import type { ProofShardLocator } from './revocation-shard'
import type { Tier } from './tier'

/** Proofs remembered per isolate; expired ones are dropped first when it fills. */
const ISOLATE_CACHE_MAX = 50_000

/** What the replay check concluded (logged; the origin is told through the signed identity). */
export type ReplayOutcome = 'checked' | 'isolate-only; tier=low' | 'unavailable; policy=fail-open'

export class ProofReplayGuard {
  /** `${jkt} ${jti}` → epoch seconds after which the proof can no longer be accepted anyway. */
  private readonly seen = new Map<string, number>()
  private readonly breakers: BreakerPool

  constructor(
    private readonly shards: ProofShardLocator,
    timeoutMs: number,
    /** How far a proof's iat may be from now (the verifier's window). */
    private readonly windowSeconds: number,
    private readonly now: () => number,
    /** Proofs remembered in this isolate. */
    private readonly capacity = ISOLATE_CACHE_MAX,
  ) {
    this.breakers = new BreakerPool(
      {
        label: 'dpop_replay',
        counter: 'gatehouse_dpop_replay_checks_total',
        unavailable: 'replay_check_unavailable',
        failOpenEvent: 'dpop_replay_fail_open',
      },
      timeoutMs,
      now,
    )
  }

  /**
   * Claims a verified proof for this request. Throws AuthError dpop_replay when it was used
   * before, replay_check_unavailable (critical tier, store down).
   */
  async claim(proof: DpopProof, tier: Tier): Promise<ReplayOutcome> {
    const expiresAt = Math.ceil(proof.iat + this.windowSeconds + 1)
    const remembered = this.claimInIsolate(proof, expiresAt)
    // A low route relies on the isolate's memory; when that is full of live proofs (a burst of
    // hundreds of proofs a second), the proof is claimed globally instead of being forgotten.
    if (tier === 'low' && remembered) return 'isolate-only; tier=low'
    const first = await this.breakers.ask(proof.jkt, tier, () =>
      this.shards(proof.jkt).claimProof(proof.jti, expiresAt),
    )
    if (first === FAIL_OPEN) return FAIL_OPEN
    if (!first) {
      countMetric('gatehouse_dpop_replay_checks_total', { tier, result: 'replay' })
      throw new AuthError('dpop_replay', { detail: 'proof jti used before', scheme: 'DPoP' })
    }
    countMetric('gatehouse_dpop_replay_checks_total', { tier, result: 'ok' })
    return 'checked'
  }

  /** Claims the proof in this isolate; false when the memory is full of live proofs. */
  private claimInIsolate(proof: DpopProof, expiresAt: number): boolean {
    const key = `${proof.jkt} ${proof.jti}`
    const nowSeconds = this.now() / 1000
    const until = this.seen.get(key)
    if (until !== undefined && until > nowSeconds) {
      countMetric('gatehouse_dpop_replay_checks_total', { tier: 'isolate', result: 'replay' })
      throw new AuthError('dpop_replay', { detail: 'proof jti used before', scheme: 'DPoP' })
    }
    if (this.seen.size >= this.capacity) {
      // Entries are in insertion order, so expired ones are at the front: drop them.
      for (const [k, u] of this.seen) {
        if (u > nowSeconds) break
        this.seen.delete(k)
      }
      if (this.seen.size >= this.capacity) return false
    }
    this.seen.set(key, expiresAt)
    return true
  }
}
