// The tier policy for revocation (DESIGN.md § risk tiers): `low` skips the check, `standard` and
// `critical` ask the subject's RevocationShard through a timeout and a per-isolate circuit
// breaker. When the store cannot answer, `standard` fails open (counted, logged, and told to the
// origin) and `critical` fails closed with 503 + Retry-After. No other code path improvises.

import type { Tier } from '../config/config'
import type { Env } from '../config/env'
import { AuthError } from '../lib/errors'
import { logLine } from '../observability/log'
import { countMetric } from '../observability/metrics'
import { CircuitBreaker, withTimeout } from '../lib/circuit-breaker'
import type { VerifiedToken } from '../verify/verify-token'
import { getRevocationShard } from './revocation-shard'

/** Consecutive failures that open the breaker, and how long it stays open. */
const BREAKER_FAILURES = 3
const BREAKER_OPEN_MS = 5_000

/** One breaker per REVOCATIONS binding, i.e. per isolate in production. */
const breakers = new WeakMap<object, CircuitBreaker>()

function breakerFor(binding: object): CircuitBreaker {
  let breaker = breakers.get(binding)
  if (breaker === undefined) {
    breaker = new CircuitBreaker({
      failureThreshold: BREAKER_FAILURES,
      openMs: BREAKER_OPEN_MS,
      onChange: (state) => {
        countMetric('gatehouse_breaker_transitions_total', { breaker: 'revocation', state })
        logLine(state === 'open' ? 'warn' : 'info', 'breaker_state', {
          breaker: 'revocation',
          state,
        })
      },
    })
    breakers.set(binding, breaker)
  }
  return breaker
}

const TIER_RANK: Record<Tier, number> = { low: 0, standard: 1, critical: 2 }

/** The route's tier, raised by any sensitive scope the token carries. */
export function effectiveTier(
  routeTier: Tier,
  scopes: readonly string[],
  sensitive: Readonly<Record<string, Tier>>,
): Tier {
  let tier = routeTier
  for (const scope of scopes) {
    const raised = sensitive[scope]
    if (raised !== undefined && TIER_RANK[raised] > TIER_RANK[tier]) tier = raised
  }
  return tier
}

/**
 * Applies the tier's revocation policy to a verified token. Returns the X-Auth-Revocation value
 * for the origin; throws AuthError revoked (401) or revocation_unavailable (503, critical only).
 */
export async function checkRevocation(
  token: VerifiedToken,
  tier: Tier,
  env: Env,
  timeoutMs: number,
): Promise<string> {
  if (tier === 'low') return 'skipped; tier=low'
  const breaker = breakerFor(env.REVOCATIONS)
  if (!breaker.allow()) return unavailable(tier, 'breaker_open', breaker)
  let verdict
  try {
    const shard = getRevocationShard(env, token.issuer.issuer, token.tenant, token.subject)
    verdict = await withTimeout(
      shard.check({ jti: token.tokenId, sid: token.sessionId, iat: token.issuedAt }),
      timeoutMs,
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

function unavailable(tier: Tier, cause: string, breaker: CircuitBreaker): string {
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
