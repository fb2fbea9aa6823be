// The isolate's metrics registry: counters and fixed-bucket histograms with label values from
// closed sets (reasons, tiers, layers, route prefixes from config), so cardinality is bounded.
// Recording is a Map update and never throws; a flusher (metrics-flush.ts) periodically drains
// the deltas to the aggregating Durable Object behind GET /metrics.

export const COUNTERS = {
  gatehouse_requests_total: 'Requests by route, outcome and reason',
  gatehouse_verify_total: 'Access-token verifications by outcome (ok or the rejection reason)',
  gatehouse_login_total: 'Login attempts by result',
  gatehouse_refresh_total: 'Refresh attempts by result',
  gatehouse_revocation_checks_total: 'Revocation checks by tier and result',
  gatehouse_dpop_replay_checks_total: 'DPoP proof single-use checks by tier and result',
  gatehouse_dpop_total: 'DPoP-bound requests and token issuances by result',
  gatehouse_rate_limit_total: 'Rate-limited routes: requests by route and result',
  gatehouse_websocket_total: 'Relayed WebSockets by route and how they ended',
  gatehouse_jwks_lookups_total: 'Key lookups by the cache layer that answered',
  gatehouse_jwks_fetches_total: 'JWKS source fetches by issuer and result',
  gatehouse_origin_requests_total: 'Forwards to origins by route and result',
  gatehouse_origin_retries_total: 'Retried forwards by route',
  gatehouse_breaker_transitions_total: 'Circuit breaker state changes',
  gatehouse_security_events_total: 'Security events by type',
  gatehouse_mfa_total:
    'Second-factor checks by flow (login, passkey_login, step_up), factor and result',
  gatehouse_step_up_total:
    'Step-up: requests refused for their authentication level, step-ups passed',
} as const

export const HISTOGRAMS = {
  gatehouse_request_duration_ms: 'Gateway request latency in milliseconds',
  gatehouse_origin_duration_ms: 'Origin response-header latency in milliseconds, by route',
  gatehouse_clock_offset_seconds: 'now - iat at verification, by issuer (skew shows here first)',
} as const

export type CounterName = keyof typeof COUNTERS
export type HistogramName = keyof typeof HISTOGRAMS
export type Labels = Readonly<Record<string, string>>

/** Upper bounds per histogram (Prometheus `le`), plus +Inf implicitly. */
export const BUCKETS: Readonly<Record<HistogramName, readonly number[]>> = {
  gatehouse_request_duration_ms: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10_000],
  gatehouse_origin_duration_ms: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10_000],
  gatehouse_clock_offset_seconds: [-300, -60, -10, -1, 0, 1, 10, 60, 300, 900, 3600],
}

/** One series' delta since the last drain: a counter value or histogram bucket counts. */
export interface SeriesDelta {
  readonly name: CounterName | HistogramName
  readonly labels: Labels
  readonly value: number
  /** Histograms only: per-bucket counts (same order as BUCKETS, last = +Inf) and the sum. */
  readonly buckets?: number[]
  readonly sum?: number
}

interface Series {
  name: CounterName | HistogramName
  labels: Labels
  value: number
  buckets?: number[]
  sum?: number
}

const series = new Map<string, Series>()

/**
 * The isolate-local key of a series. Labels are taken in the caller's order (call sites use
 * literal objects, so one series always comes in one order); the aggregator sorts them.
 */
function seriesKey(name: string, labels: Labels): string {
  // A frozen label set is a module constant (the verifier's hit and miss, a key-store layer):
  // its key is built once per metric name.
  if (Object.isFrozen(labels)) {
    let keys = frozenKeys.get(labels)
    if (keys === undefined) frozenKeys.set(labels, (keys = new Map()))
    let key = keys.get(name)
    if (key === undefined) keys.set(name, (key = buildKey(name, labels)))
    return key
  }
  return buildKey(name, labels)
}

const frozenKeys = new WeakMap<Labels, Map<string, string>>()

function buildKey(name: string, labels: Labels): string {
  let key = name
  for (const label in labels) key += `|${label}=${labels[label]}`
  return key
}

/** Adds `value` to a counter. */
export function countMetric(name: CounterName, labels: Labels = {}, value = 1): void {
  try {
    const key = seriesKey(name, labels)
    const s = series.get(key)
    if (s === undefined) series.set(key, { name, labels, value })
    else s.value += value
  } catch {
    // never let a metric fail a request
  }
}

/** Records one observation in a histogram. */
export function observeMetric(name: HistogramName, labels: Labels, observation: number): void {
  try {
    const key = seriesKey(name, labels)
    const bounds = BUCKETS[name]
    let s = series.get(key)
    if (s === undefined) {
      s = { name, labels, value: 0, buckets: new Array<number>(bounds.length + 1).fill(0), sum: 0 }
      series.set(key, s)
    }
    let i = 0
    while (i < bounds.length && observation > (bounds[i] as number)) i++
    const buckets = s.buckets as number[]
    buckets[i] = (buckets[i] ?? 0) + 1
    s.value += 1
    s.sum = (s.sum ?? 0) + observation
  } catch {
    // never let a metric fail a request
  }
}

/** Returns and clears the isolate's deltas (the flusher sends them on). */
export function drainMetrics(): SeriesDelta[] {
  const out = [...series.values()]
  series.clear()
  return out
}

/** Puts drained deltas back (a failed flush must not lose counts). */
export function restoreMetrics(deltas: readonly SeriesDelta[]): void {
  for (const d of deltas) {
    if (d.buckets === undefined) {
      countMetric(d.name as CounterName, d.labels, d.value)
      continue
    }
    const key = seriesKey(d.name, d.labels)
    const s = series.get(key)
    if (s === undefined) {
      series.set(key, { ...d, buckets: [...d.buckets] })
    } else {
      s.value += d.value
      s.sum = (s.sum ?? 0) + (d.sum ?? 0)
      d.buckets.forEach(
        (n, i) => ((s.buckets as number[])[i] = ((s.buckets as number[])[i] ?? 0) + n),
      )
    }
  }
}
