// Forwarding to an origin, resilient by construction: the body streams through untouched; the
// route's timeout bounds the wait for response headers (504); a connection failure is 502;
// idempotent body-less requests are retried only when no response byte arrived, with
// exponential backoff and full jitter, bounded attempts and a per-origin retry budget; a
// per-origin circuit breaker answers 503 at once while open; and a per-origin bulkhead caps
// in-flight requests so one slow origin cannot hold every connection of the isolate. An
// origin's own answers, errors included, pass through unchanged.

import { AuthError } from '../lib/errors'
import { logLine } from '../observability/log'
import { countMetric, observeMetric } from '../observability/metrics'
import { CircuitBreaker } from '../lib/circuit-breaker'
import { sanitizeResponseHeaders } from './header-rules'
import { markStage } from '../observability/stage-marks'

const BREAKER_FAILURES = 5
const BREAKER_OPEN_MS = 10_000
const RETRY_BASE_MS = 50
const RETRY_CAP_MS = 1_000
/** Retry budget per origin: at most ~10 % extra load, with a small burst allowance. */
const RETRY_BUDGET_MAX = 10
const RETRY_BUDGET_PER_REQUEST = 0.1
/** Origin statuses that count as the origin being unavailable (they still pass through). */
const UNAVAILABLE_STATUSES = new Set([502, 503, 504])
const RETRYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'PUT'])

interface OriginState {
  readonly breaker: CircuitBreaker
  inFlight: number
  retryBudget: number
}

function newOriginState(origin: string, now: () => number): OriginState {
  return {
    breaker: new CircuitBreaker({
      failureThreshold: BREAKER_FAILURES,
      openMs: BREAKER_OPEN_MS,
      now,
      onChange: (to) => {
        countMetric('gatehouse_breaker_transitions_total', { breaker: 'origin', state: to })
        logLine(to === 'open' ? 'warn' : 'info', 'breaker_state', {
          breaker: 'origin',
          origin,
          state: to,
        })
      },
    }),
    inFlight: 0,
    retryBudget: RETRY_BUDGET_MAX,
  }
}

/** Full-jitter backoff (AWS Architecture Blog, 2015): uniform in [0, min(cap, base·2^attempt)). */
export function backoffDelayMs(attempt: number, random: number): number {
  return Math.floor(random * Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** attempt))
}

export interface ForwardInput {
  readonly origin: string
  readonly target: string
  readonly method: string
  /** A streamed body (never retried), bytes read to bind them (docs/ASSERTION.md), or none. */
  readonly body: ReadableStream | Uint8Array | null
  readonly timeoutMs: number
  readonly retries: number
  readonly maxInFlight: number
  readonly gatewayCookies: readonly string[]
  /** Route label for metrics. */
  readonly route: string
  /** Builds the headers of attempt n (0-based); each attempt is signed with a fresh nonce. */
  readonly headersForAttempt: (attempt: number) => Promise<Headers>
  readonly fetch: typeof fetch
  readonly random?: () => number
}

/**
 * The isolate's forwarder: per-origin breaker, bulkhead and retry budget (one per isolate, built
 * by the wiring). `now` is the clock in epoch ms.
 */
export class Forwarder {
  private readonly origins = new Map<string, OriginState>()

  constructor(private readonly now: () => number) {}

  /** Sends the request; throws AuthError origin_timeout | origin_unreachable | origin_busy | origin_circuit_open. */
  forward(input: ForwardInput): Promise<Response> {
    let state = this.origins.get(input.origin)
    if (state === undefined) {
      state = newOriginState(input.origin, this.now)
      this.origins.set(input.origin, state)
    }
    return forwardWith(input, state, this.now)
  }
}

async function forwardWith(
  input: ForwardInput,
  state: OriginState,
  now: () => number,
): Promise<Response> {
  if (state.inFlight >= input.maxInFlight) {
    countMetric('gatehouse_origin_requests_total', { route: input.route, result: 'bulkhead_full' })
    throw new AuthError('origin_busy', { detail: 'bulkhead full', retryAfterSeconds: 1 })
  }
  if (!state.breaker.allow()) {
    countMetric('gatehouse_origin_requests_total', { route: input.route, result: 'circuit_open' })
    throw new AuthError('origin_circuit_open', {
      retryAfterSeconds: Math.max(1, state.breaker.retryAfterMs() / 1000),
    })
  }
  state.inFlight++
  state.retryBudget = Math.min(RETRY_BUDGET_MAX, state.retryBudget + RETRY_BUDGET_PER_REQUEST)
  const started = now()
  try {
    const response = await attempts(input, state, now)
    markStage('origin')
    observeMetric('gatehouse_origin_duration_ms', { route: input.route }, now() - started)
    if (UNAVAILABLE_STATUSES.has(response.status)) state.breaker.failure()
    else state.breaker.success()
    countMetric('gatehouse_origin_requests_total', {
      route: input.route,
      result: String(response.status)[0] + 'xx',
    })
    // One copy of the origin's headers (fetch responses are immutable), cleaned in place.
    const answer = new Response(response.body, response)
    sanitizeResponseHeaders(answer.headers, input.gatewayCookies)
    return answer
  } catch (err) {
    state.breaker.failure()
    const result =
      err instanceof AuthError && err.reason === 'origin_timeout' ? 'timeout' : 'unreachable'
    countMetric('gatehouse_origin_requests_total', { route: input.route, result })
    throw err
  } finally {
    state.inFlight--
  }
}

/**
 * Sends the attempts: each with its own headers (signed afresh) and a timer bounding the wait for
 * response headers by the request's deadline; a retry only for a connection failure of a
 * retryable request, within the retry budget and the deadline.
 */
async function attempts(
  input: ForwardInput,
  state: OriginState,
  now: () => number,
): Promise<Response> {
  const deadline = now() + input.timeoutMs
  // A body can be sent once: a request with one is never retried.
  const retryable = input.body === null && RETRYABLE_METHODS.has(input.method)
  for (let attempt = 0; ; attempt++) {
    const controller = new AbortController()
    const timer = setTimeout(
      () => controller.abort(new DOMException('origin timeout', 'TimeoutError')),
      Math.max(1, deadline - now()),
    )
    let response: Response
    try {
      const headers = await input.headersForAttempt(attempt)
      markStage('identity + signature')
      response = await input.fetch(input.origin + input.target, {
        method: input.method,
        headers,
        body: input.method === 'GET' || input.method === 'HEAD' ? null : input.body,
        redirect: 'manual',
        signal: controller.signal,
      })
    } catch (err) {
      clearTimeout(timer)
      if (controller.signal.aborted) {
        throw new AuthError('origin_timeout', { detail: `after ${input.timeoutMs} ms` })
      }
      if (err instanceof AuthError) throw err // a timeout is not retried: the origin may be working
      const canRetry = retryable && attempt < input.retries && state.retryBudget >= 1
      if (!canRetry)
        throw new AuthError('origin_unreachable', {
          detail: err instanceof Error ? err.name : 'fetch failed',
        })
      state.retryBudget -= 1
      countMetric('gatehouse_origin_retries_total', { route: input.route })
      const delay = backoffDelayMs(attempt, (input.random ?? Math.random)())
      if (now() + delay >= deadline)
        throw new AuthError('origin_timeout', { detail: 'no time left to retry' })
      await new Promise((resolve) => setTimeout(resolve, delay))
      continue
    }
    clearTimeout(timer)
    return response
  }
}
