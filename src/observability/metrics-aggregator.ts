// MetricsAggregator: one Durable Object that sums the counters every isolate flushes (batched,
// every few seconds, never per request) so GET /metrics can show totals across isolates.
// Series are bounded by the closed label sets of metrics.ts. SQLite-backed, RPC only.

import { DurableObject } from 'cloudflare:workers'
import type { SeriesDelta } from './metrics'

interface SeriesRow {
  key: string
  name: string
  labels: string
  value: number
  buckets: string | null
  sum: number | null
  [column: string]: SqlStorageValue
}

export class MetricsAggregator extends DurableObject<unknown> {
  private readonly sql: SqlStorage

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    void ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(`CREATE TABLE IF NOT EXISTS series (
        key TEXT PRIMARY KEY, name TEXT NOT NULL, labels TEXT NOT NULL,
        value REAL NOT NULL, buckets TEXT, sum REAL)`)
    })
  }

  /** Adds one isolate's deltas to the totals. */
  merge(deltas: SeriesDelta[]): void {
    for (const d of deltas) {
      const labels = JSON.stringify(Object.fromEntries(Object.entries(d.labels).sort()))
      const key = `${d.name}${labels}`
      const row = this.sql.exec<SeriesRow>('SELECT * FROM series WHERE key = ?', key).toArray()[0]
      if (row === undefined) {
        this.sql.exec(
          'INSERT INTO series (key, name, labels, value, buckets, sum) VALUES (?, ?, ?, ?, ?, ?)',
          key,
          d.name,
          labels,
          d.value,
          d.buckets ? JSON.stringify(d.buckets) : null,
          d.sum ?? null,
        )
        continue
      }
      const buckets =
        d.buckets && row.buckets ? addBuckets(JSON.parse(row.buckets) as number[], d.buckets) : null
      this.sql.exec(
        'UPDATE series SET value = value + ?, buckets = ?, sum = COALESCE(sum, 0) + ? WHERE key = ?',
        d.value,
        buckets ? JSON.stringify(buckets) : row.buckets,
        d.sum ?? 0,
        key,
      )
    }
  }

  /** Totals of every series, for the Prometheus exposition. */
  snapshot(): SeriesDelta[] {
    return this.sql
      .exec<SeriesRow>('SELECT * FROM series ORDER BY name, labels')
      .toArray()
      .map((r) => ({
        name: r.name as SeriesDelta['name'],
        labels: JSON.parse(r.labels) as Record<string, string>,
        value: r.value,
        ...(r.buckets ? { buckets: JSON.parse(r.buckets) as number[], sum: r.sum ?? 0 } : {}),
      }))
  }
}

function addBuckets(a: number[], b: readonly number[]): number[] {
  return a.map((n, i) => n + (b[i] ?? 0))
}

/** The one aggregator instance. */
export function getMetricsAggregator(
  namespace: DurableObjectNamespace<MetricsAggregator>,
): DurableObjectStub<MetricsAggregator> {
  return namespace.get(namespace.idFromName('metrics'))
}
