// Moving the isolate's metric deltas to the MetricsAggregator: at most one flush per
// FLUSH_INTERVAL_MS per isolate, in waitUntil after a response — never a write per request and
// never on the request's path. A failed flush puts the deltas back for the next one. Each request
// also writes one Analytics Engine data point (the production sink), which cannot fail it.

import type { Env } from '../config/env'
import { getMetricsAggregator } from '../observability/metrics-aggregator'
import { drainMetrics, restoreMetrics } from '../observability/metrics'

export const FLUSH_INTERVAL_MS = 5_000

let lastFlushAt = 0
let flushing = false

/** Starts a background flush when the interval has passed; returns at once. */
export function scheduleMetricsFlush(
  env: Env,
  waitUntil: (p: Promise<unknown>) => void,
  now = Date.now(),
): void {
  if (flushing || now - lastFlushAt < FLUSH_INTERVAL_MS) return
  lastFlushAt = now
  const deltas = drainMetrics()
  if (deltas.length === 0) return
  flushing = true
  try {
    waitUntil(
      getMetricsAggregator(env)
        .merge(deltas)
        .catch(() => restoreMetrics(deltas))
        .finally(() => {
          flushing = false
        }),
    )
  } catch {
    restoreMetrics(deltas)
    flushing = false
  }
}

/** Flushes now (before GET /metrics answers, so the scraper sees this isolate's latest counts). */
export async function flushMetricsNow(env: Env): Promise<void> {
  const deltas = drainMetrics()
  if (deltas.length === 0) return
  try {
    await getMetricsAggregator(env).merge(deltas)
    lastFlushAt = Date.now()
  } catch (err) {
    restoreMetrics(deltas)
    throw err
  }
}

export interface RequestPoint {
  readonly route: string
  readonly method: string
  readonly outcome: string
  readonly reason: string
  readonly tier: string
  readonly revocation: string
  readonly colo: string
  readonly status: number
  readonly latencyMs: number
}

/** One Analytics Engine data point per request; a missing binding or a failure is ignored. */
export function writeRequestPoint(
  dataset: AnalyticsEngineDataset | undefined,
  p: RequestPoint,
): void {
  if (dataset === undefined) return
  try {
    dataset.writeDataPoint({
      indexes: [p.route],
      blobs: [p.route, p.method, p.outcome, p.reason, p.tier, p.revocation, p.colo],
      doubles: [p.status, p.latencyMs],
    })
  } catch {
    // metrics never fail a request
  }
}
