// The tier policy for revocation (ARCHITECTURE § risk tiers): `low` skips the check, `standard`
// and `critical` ask the subject's RevocationShard through a timeout and that shard's circuit
// breaker. When the store cannot answer, `standard` fails open (counted, logged, and told to the
// origin) and `critical` fails closed with 503 + Retry-After. No other code path improvises.

import { AuthError } from '../lib/errors'
import { withTimeout, type CircuitBreaker } from '../lib/circuit-breaker'
import { logLine } from '../observability/log'
import { countMetric } from '../observability/metrics'
import type { VerifiedToken } from '../verify/verify-token'
import { BreakerPool } from './breaker-pool'
import type { ShardLocator } from './revocation-shard'
import type { Tier } from './tier'

/** What the origin is told about revocation (X-Auth-Revocation); a closed set. */
export type RevocationOutcome = 'checked' | 'skipped; tier=low' | 'unavailable; policy=fail-open'

/**
 * The tier policy over a shard locator; one per isolate, built by the wiring. Each shard has its
 * own breaker, so one slow or flooded subject cannot make every other subject's checks fail open.
 */
export class RevocationPolicy {
  private readonly breakers: BreakerPool

  constructor(
    private readonly shards: ShardLocator,
    private readonly timeoutMs: number,
    now: () => number,
  ) {
    this.breakers = new BreakerPool('revocation', now)
  }

  /**
   * Applies the tier's revocation policy to a verified token. Returns what the origin is told;
   * throws AuthError revoked (401) or revocation_unavailable (503, critical only).
   */
  async check(token: VerifiedToken, tier: Tier): Promise<RevocationOutcome> {
    if (tier === 'low') return 'skipped; tier=low'
    const breaker = this.breakers.for(
      JSON.stringify([token.issuer.issuer, token.tenant, token.subject]),
    )
    if (!breaker.allow()) return unavailable(tier, 'breaker_open', breaker)
    let verdict
    try {
      const shard = this.shards(token.issuer.issuer, token.tenant, token.subject)
      verdict = await withTimeout(
        shard.check({ jti: token.tokenId, sid: token.sessionId, iat: token.issuedAt }),
        this.timeoutMs,
      )
    } catch (err) {
      breaker.failure()
      const cause = err instanceof DOMException && err.name === 'TimeoutError' ? 'timeout' : 'error'
      return unavailable(tier, cause, breaker)
    }
    breaker.success()
    if (verdict.revoked) {
      countMetric('gatehouse_revocation_checks_total', { tier, result: 'revoked' })
      throw new AuthError('revoked', { detail: `revoked by ${verdict.by}` })
    }
    countMetric('gatehouse_revocation_checks_total', { tier, result: 'ok' })
    return 'checked'
  }
}

function unavailable(tier: Tier, cause: string, breaker: CircuitBreaker): RevocationOutcome {
  if (tier === 'critical') {
    countMetric('gatehouse_revocation_checks_total', { tier, result: 'fail_closed' })
    throw new AuthError('revocation_unavailable', {
      detail: cause,
      retryAfterSeconds: Math.max(1, breaker.retryAfterMs() / 1000),
    })
  }
  countMetric('gatehouse_revocation_checks_total', { tier, result: 'fail_open' })
  logLine('warn', 'revocation_fail_open', { tier, cause })
  return 'unavailable; policy=fail-open'
}
