// Asking a Durable Object shard under the tier policy (ARCHITECTURE § risk tiers): a timeout and
// a circuit breaker per shard, one pool per isolate and purpose, so a slow or flooded shard (one
// subject, one DPoP key) opens only its own breaker. When the shard cannot answer, `critical`
// fails closed (503 + Retry-After) and anything else fails open (counted, logged). Revocation
// checks and DPoP replay claims both ask through here. Bounded: the least recently used breaker
// goes first (a closed one holds nothing worth keeping).

import { CircuitBreaker, withTimeout } from '../lib/circuit-breaker'
import { AuthError } from '../lib/errors'
import { logLine } from '../observability/log'
import { countMetric } from '../observability/metrics'
import type { Tier } from './tier'

/** Consecutive failures that open a shard's breaker, and how long it stays open. */
const BREAKER_FAILURES = 3
const BREAKER_OPEN_MS = 5_000
/** Breakers kept per pool. */
const MAX_BREAKERS = 1_000

/** What a pool's shards are asked for: its breaker label, metric, 503 reason and fail-open log. */
export interface ShardPurpose {
  readonly label: 'revocation' | 'dpop_replay'
  readonly counter: 'gatehouse_revocation_checks_total' | 'gatehouse_dpop_replay_checks_total'
  readonly unavailable: 'revocation_unavailable' | 'replay_check_unavailable'
  readonly failOpenEvent: 'revocation_fail_open' | 'dpop_replay_fail_open'
}

/** The shard did not answer and the tier lets the request through. */
export const FAIL_OPEN = 'unavailable; policy=fail-open'

export class BreakerPool {
  private readonly breakers = new Map<string, CircuitBreaker>()
  private readonly label: ShardPurpose['label']

  constructor(
    private readonly purpose: ShardPurpose,
    private readonly timeoutMs: number,
    private readonly now: () => number,
  ) {
    this.label = purpose.label
  }

  /**
   * Asks the shard `key` through its breaker and the timeout. Returns its answer, or FAIL_OPEN
   * when it cannot answer on a tier below critical; throws the purpose's 503 on critical.
   */
  async ask<T>(key: string, tier: Tier, call: () => Promise<T>): Promise<T | typeof FAIL_OPEN> {
    const breaker = this.for(key)
    if (!breaker.allow()) return this.unavailable(tier, 'breaker_open', breaker)
    let answer: T
    try {
      answer = await withTimeout(call(), this.timeoutMs)
    } catch (err) {
      breaker.failure()
      const cause = err instanceof DOMException && err.name === 'TimeoutError' ? 'timeout' : 'error'
      return this.unavailable(tier, cause, breaker)
    }
    breaker.success()
    return answer
  }

  private unavailable(tier: Tier, cause: string, breaker: CircuitBreaker): typeof FAIL_OPEN {
    const { counter, unavailable, failOpenEvent } = this.purpose
    if (tier === 'critical') {
      countMetric(counter, { tier, result: 'fail_closed' })
      throw new AuthError(unavailable, {
        detail: cause,
        retryAfterSeconds: Math.max(1, breaker.retryAfterMs() / 1000),
      })
    }
    countMetric(counter, { tier, result: 'fail_open' })
    logLine('warn', failOpenEvent, { tier, cause })
    return FAIL_OPEN
  }

  /** The breaker of one shard, created closed on first use. */
  private for(key: string): CircuitBreaker {
    let breaker = this.breakers.get(key)
    if (breaker !== undefined) {
      // Map order is insertion order: re-inserting keeps the most recently used last.
      this.breakers.delete(key)
    } else {
      if (this.breakers.size >= MAX_BREAKERS) {
        const oldest = this.breakers.keys().next()
        if (!oldest.done) this.breakers.delete(oldest.value)
      }
      const label = this.label
      breaker = new CircuitBreaker({
        failureThreshold: BREAKER_FAILURES,
        openMs: BREAKER_OPEN_MS,
        now: this.now,
        onChange: (state) => {
          countMetric('gatehouse_breaker_transitions_total', { breaker: label, state })
          logLine(state === 'open' ? 'warn' : 'info', 'breaker_state', { breaker: label, state })
        },
      })
    }
    this.breakers.set(key, breaker)
    return breaker
  }
}
