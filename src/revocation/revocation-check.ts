// The tier policy for revocation (ARCHITECTURE § risk tiers): `low` skips the check, `standard`
// and `critical` ask the subject's RevocationShard through a timeout and that shard's circuit
// breaker. When the store cannot answer, `standard` fails open (counted, logged, and told to the
// origin) and `critical` fails closed with 503 + Retry-After. No other code path improvises.

import { AuthError } from '../lib/errors'
import { countMetric } from '../observability/metrics'
import type { VerifiedToken } from '../verify/verify-token'
import { BreakerPool, FAIL_OPEN } from './breaker-pool'
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
    timeoutMs: number,
    now: () => number,
  ) {
    this.breakers = new BreakerPool(
      {
        label: 'revocation',
        counter: 'gatehouse_revocation_checks_total',
        unavailable: 'revocation_unavailable',
        failOpenEvent: 'revocation_fail_open',
      },
      timeoutMs,
      now,
    )
  }

  /**
   * Applies the tier's revocation policy to a verified token. Returns what the origin is told;
   * throws AuthError revoked (401) or revocation_unavailable (503, critical only).
   */
  check(token: VerifiedToken, tier: Tier): RevocationOutcome | Promise<RevocationOutcome> {
    // A low tier never asks: answered without a promise (most requests).
    if (tier === 'low') return 'skipped; tier=low'
    return this.ask(token, tier)
  }

  private async ask(token: VerifiedToken, tier: Tier): Promise<RevocationOutcome> {
    const issuer = token.issuer.issuer
    const { tenant, subject } = token
    const verdict = await this.breakers.ask(JSON.stringify([issuer, tenant, subject]), tier, () =>
      this.shards(issuer, tenant, subject).check({
        jti: token.tokenId,
        sid: token.sessionId,
        iat: token.issuedAt,
      }),
    )
    if (verdict === FAIL_OPEN) return FAIL_OPEN
    if (verdict.revoked) {
      countMetric('gatehouse_revocation_checks_total', { tier, result: 'revoked' })
      throw new AuthError('revoked', { detail: `revoked by ${verdict.by}` })
    }
    countMetric('gatehouse_revocation_checks_total', { tier, result: 'ok' })
    return 'checked'
  }
}
