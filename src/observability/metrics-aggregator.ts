// MetricsAggregator: METRICS_SHARDS Durable Objects that sum the counters the isolates flush
// (batched, every few seconds, never per request). Each isolate writes to one shard only, so no
// single object takes every isolate's writes; a scrape reads all shards and sums them, paying
// METRICS_SHARDS reads per scrape for it. Series are bounded by the closed label sets of
// metrics.ts. SQLite-backed, RPC only.

import { DurableObject } from 'cloudflare:workers'
import type { SeriesDelta } from './metrics'

/**
 * How many aggregator instances (`metrics-0` … `metrics-15`) the isolates spread over. One
 * Durable Object serves on the order of 1,000 requests per second (a soft platform limit) and
 * an isolate merges at most once per flush interval (5 s), so one shard would saturate near
 * 5,000 busy isolates; 16 shards move that to ~80,000, while a scrape stays at 16 reads, well
 * under the subrequest limit of every plan. Raising it is safe (every old shard is still read);
 * lowering it drops the higher shards' totals from every scrape.
 */
export const METRICS_SHARDS = 16

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

  /** Adds one isolate's deltas to this shard's totals. */
  merge(deltas: SeriesDelta[]): void {
    for (const d of deltas) {
      const labels = sortedLabels(d.labels)
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

  /** This shard's totals of every series (a scrape sums all shards: scrapeMetricShards). */
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

/** Labels as JSON with sorted keys: one series has one spelling on every shard. */
function sortedLabels(labels: SeriesDelta['labels']): string {
  return JSON.stringify(Object.fromEntries(Object.entries(labels).sort()))
}

function addBuckets(a: readonly number[], b: readonly number[]): number[] {
  return a.map((n, i) => n + (b[i] ?? 0))
}

/** A random shard index in [0, METRICS_SHARDS): an isolate draws one for its whole life. */
export function pickMetricsShard(random: () => number = Math.random): number {
  return Math.min(METRICS_SHARDS - 1, Math.floor(random() * METRICS_SHARDS))
}

/** Throws RangeError unless `shard` is an integer in [0, METRICS_SHARDS). */
export function assertMetricsShard(shard: number): void {
  if (!Number.isInteger(shard) || shard < 0 || shard >= METRICS_SHARDS) {
    throw new RangeError(`metrics shard ${shard} is outside 0..${METRICS_SHARDS - 1}`)
  }
}

/** The aggregator shard `metrics-<shard>`; throws RangeError outside [0, METRICS_SHARDS). */
export function getMetricsAggregator(
  namespace: DurableObjectNamespace<MetricsAggregator>,
  shard: number,
): DurableObjectStub<MetricsAggregator> {
  assertMetricsShard(shard)
  return namespace.get(namespace.idFromName(`metrics-${shard}`))
}

/**
 * Sums per-shard snapshots into one: values and histogram sums add, buckets add element-wise.
 * Sorted by name, then sorted-labels JSON, in code-unit order (as the shards' SQLite BINARY
 * `ORDER BY name, labels`), so the exposition's order does not depend on which shard answered.
 */
export function mergeSnapshots(snapshots: readonly (readonly SeriesDelta[])[]): SeriesDelta[] {
  const merged = new Map<string, { labels: string; series: SeriesDelta }>()
  for (const snapshot of snapshots) {
    for (const s of snapshot) {
      const labels = sortedLabels(s.labels)
      const key = `${s.name}${labels}`
      const seen = merged.get(key)
      merged.set(key, {
        labels,
        series: seen === undefined ? s : addSeries(seen.series, s),
      })
    }
  }
  return [...merged.values()]
    .sort((a, b) => compare(a.series.name, b.series.name) || compare(a.labels, b.labels))
    .map((m) => m.series)
}

function addSeries(a: SeriesDelta, b: SeriesDelta): SeriesDelta {
  const value = a.value + b.value
  if (a.buckets === undefined || b.buckets === undefined) return { ...a, value }
  return {
    ...a,
    value,
    buckets: addBuckets(a.buckets, b.buckets),
    sum: (a.sum ?? 0) + (b.sum ?? 0),
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** A scrape: every shard's totals summed, or the shards that did not answer. */
export type MetricsScrape =
  | { readonly ok: true; readonly series: SeriesDelta[] }
  | {
      readonly ok: false
      /** Indexes of the shards whose snapshot failed, ascending. */
      readonly failedShards: number[]
      /** The first failure's error name and message (a snapshot carries no input to quote). */
      readonly error: string
    }

/**
 * Reads all METRICS_SHARDS shards in parallel and sums them. Never throws: a shard that fails
 * makes the whole scrape fail (a partial sum would look like counters going backwards), and the
 * caller decides the answer. If the platform's per-request cap on simultaneous connections
 * applies to these calls, the excess waits its turn rather than failing.
 */
export async function scrapeMetricShards(
  namespace: DurableObjectNamespace<MetricsAggregator>,
): Promise<MetricsScrape> {
  const shards = Array.from({ length: METRICS_SHARDS }, (_, i) => i)
  const results = await Promise.allSettled(
    shards.map(async (i) => getMetricsAggregator(namespace, i).snapshot()),
  )
  const failedShards = shards.filter((i) => results[i]?.status !== 'fulfilled')
  if (failedShards.length > 0) {
    const first = results[failedShards[0] as number]
    const reason: unknown = first?.status === 'rejected' ? first.reason : undefined
    return { ok: false, failedShards, error: describeError(reason) }
  }
  return {
    ok: true,
    series: mergeSnapshots(
      results.map((r) => (r.status === 'fulfilled' ? (r.value as SeriesDelta[]) : [])),
    ),
  }
}

/** Caps what a log line carries of an error. */
const ERROR_TEXT_MAX_CHARS = 200

function describeError(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : 'unknown'
  return text.slice(0, ERROR_TEXT_MAX_CHARS)
}
