// Moving the isolate's metric deltas to its MetricsAggregator shard: at most one flush per
// FLUSH_INTERVAL_MS per isolate, in waitUntil after a response — never a write per request and
// never on the request's path. The isolate draws its shard once and only ever writes there, so
// the writes of all isolates spread over METRICS_SHARDS objects; a scrape sums them all. A failed
// flush puts the deltas back for the next one. Each request also writes one Analytics Engine
// data point (the production sink), which cannot fail it.

import { drainMetrics, restoreMetrics } from '../observability/metrics'
import {
  assertMetricsShard,
  getMetricsAggregator,
  pickMetricsShard,
  scrapeMetricShards,
  type MetricsAggregator,
  type MetricsScrape,
} from '../observability/metrics-aggregator'

export const FLUSH_INTERVAL_MS = 5_000

/** The isolate's flusher (one per isolate, built by the wiring). */
export class MetricsFlusher {
  private lastFlushAt = 0
  private flushing = false

  /**
   * `shard` is the aggregator shard this isolate writes to, drawn at random unless given (tests
   * pass one to stand in for several isolates); throws RangeError outside [0, METRICS_SHARDS).
   */
  constructor(
    private readonly namespace: DurableObjectNamespace<MetricsAggregator> | undefined,
    private readonly now: () => number,
    readonly shard: number = pickMetricsShard(),
  ) {
    assertMetricsShard(shard)
  }

  /** Starts a background flush when the interval has passed; returns at once. */
  schedule(waitUntil: (p: Promise<unknown>) => void): void {
    const now = this.now()
    if (this.namespace === undefined) return
    if (this.flushing || now - this.lastFlushAt < FLUSH_INTERVAL_MS) return
    this.lastFlushAt = now
    const deltas = drainMetrics()
    if (deltas.length === 0) return
    this.flushing = true
    try {
      waitUntil(
        getMetricsAggregator(this.namespace, this.shard)
          .merge(deltas)
          .catch(() => restoreMetrics(deltas))
          .finally(() => {
            this.flushing = false
          }),
      )
    } catch {
      restoreMetrics(deltas)
      this.flushing = false
    }
  }

  /** Flushes now (before GET /metrics answers, so the scraper sees this isolate's latest counts). */
  async flushNow(): Promise<void> {
    if (this.namespace === undefined) return
    const deltas = drainMetrics()
    if (deltas.length === 0) return
    try {
      await getMetricsAggregator(this.namespace, this.shard).merge(deltas)
      this.lastFlushAt = this.now()
    } catch (err) {
      restoreMetrics(deltas)
      throw err
    }
  }

  /**
   * Every shard's totals summed, for the Prometheus exposition, or the shards that failed (never
   * a partial sum). Throws only when the METRICS_AGGREGATOR binding is missing.
   */
  snapshot(): Promise<MetricsScrape> {
    if (this.namespace === undefined) throw new Error('no METRICS_AGGREGATOR binding')
    return scrapeMetricShards(this.namespace)
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
