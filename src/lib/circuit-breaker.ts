// A per-isolate circuit breaker: after `failureThreshold` consecutive failures it opens and
// answers "no" at once for `openMs`, then lets exactly one probe through (half-open); the probe's
// success closes it, its failure opens it again. So an outage costs one timeout per open period,
// not one per request. State changes are reported through `onChange` (metrics, logs).

export type BreakerState = 'closed' | 'open' | 'half_open'

export interface BreakerOptions {
  readonly failureThreshold: number
  readonly openMs: number
  /** Epoch milliseconds. */
  readonly now: () => number
  readonly onChange?: (state: BreakerState) => void
}

export class CircuitBreaker {
  private state: BreakerState = 'closed'
  private failures = 0
  private openedAt = 0
  private probing = false

  constructor(private readonly options: BreakerOptions) {}

  /** True when a call may go ahead; in half-open state only one probe at a time may. */
  allow(): boolean {
    if (this.state === 'closed') return true
    if (this.state === 'open') {
      if (this.now() - this.openedAt < this.options.openMs) return false
      this.transition('half_open')
    }
    if (this.probing) return false
    this.probing = true
    return true
  }

  /** Milliseconds until an open breaker lets a probe through (for Retry-After). */
  retryAfterMs(): number {
    if (this.state !== 'open') return 0
    return Math.max(0, this.options.openMs - (this.now() - this.openedAt))
  }

  success(): void {
    this.failures = 0
    this.probing = false
    if (this.state !== 'closed') this.transition('closed')
  }

  failure(): void {
    this.probing = false
    this.failures++
    if (
      this.state === 'half_open' ||
      (this.state === 'closed' && this.failures >= this.options.failureThreshold)
    ) {
      this.openedAt = this.now()
      this.transition('open')
    }
  }

  current(): BreakerState {
    return this.state
  }

  private now(): number {
    return this.options.now()
  }

  private transition(state: BreakerState): void {
    this.state = state
    this.options.onChange?.(state)
  }
}

/**
 * Rejects with a TimeoutError when `promise` does not settle within `ms`. One promise and one
 * timer, cleared as soon as it settles (on the critical route's path: no race, no finally).
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')),
      ms,
    )
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (err: unknown) => {
        clearTimeout(timer)
        reject(err)
      },
    )
  })
}
