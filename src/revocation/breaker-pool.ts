// Circuit breakers per Durable Object shard, one pool per isolate and purpose: a slow or flooded
// shard (one subject, one DPoP key) opens only its own breaker. Bounded: the least recently used
// breaker goes first (a closed one holds nothing worth keeping).

import { CircuitBreaker } from '../lib/circuit-breaker'
import { logLine } from '../observability/log'
import { countMetric } from '../observability/metrics'

/** Consecutive failures that open a shard's breaker, and how long it stays open. */
const BREAKER_FAILURES = 3
const BREAKER_OPEN_MS = 5_000
/** Breakers kept per pool. */
const MAX_BREAKERS = 1_000

export class BreakerPool {
  private readonly breakers = new Map<string, CircuitBreaker>()

  constructor(
    /** The metric label and log field naming what these breakers guard. */
    private readonly label: 'revocation' | 'dpop_replay',
    private readonly now: () => number,
  ) {}

  /** The breaker of one shard, created closed on first use. */
  for(key: string): CircuitBreaker {
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
