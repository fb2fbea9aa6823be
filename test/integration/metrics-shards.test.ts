// The sharded metrics aggregator inside workerd with the real Durable Objects: each simulated
// isolate (a MetricsFlusher given its shard) writes to its own shard only, a scrape sums every
// shard and counts each request once, a failed flush is counted once when retried, and a shard
// that does not answer makes GET /metrics a 503 instead of a total that silently misses it.

import { env } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { MetricsFlusher } from '../../src/http/metrics-flush'
import { countMetric, observeMetric, type SeriesDelta } from '../../src/observability/metrics'
import {
  METRICS_SHARDS,
  getMetricsAggregator,
  type MetricsAggregator,
} from '../../src/observability/metrics-aggregator'
import { authConfig } from '../helpers/auth'
import { captureLogs, installNetwork, send, testEnv } from '../helpers/gateway'

const SCRAPE = { authorization: `Bearer ${env.METRICS_SCRAPE_SECRET as string}` }
const namespace = env.METRICS_AGGREGATOR
const clock = () => Date.now()

beforeEach(() => {
  installNetwork()
})
afterEach(() => vi.restoreAllMocks())

/** A series of its own per test, so no other request or test moves it. */
function uniqueType(): string {
  return `shard-test-${crypto.randomUUID()}`
}

/** The value of one security-events series on each shard (0 where the shard lacks it). */
async function perShard(type: string): Promise<number[]> {
  const snapshots = await Promise.all(
    Array.from({ length: METRICS_SHARDS }, (_, i) => getMetricsAggregator(namespace, i).snapshot()),
  )
  return snapshots.map(
    (series) =>
      series.find((s) => s.name === 'gatehouse_security_events_total' && s.labels.type === type)
        ?.value ?? 0,
  )
}

/** A METRICS_AGGREGATOR over the real one whose merges fail `failures.merges` times and whose
 * named shards' snapshots fail, both before the call reaches the shard. */
function flakyNamespace(failures: { merges: number; downShards: Set<string> }) {
  return {
    idFromName: (name: string) => ({ name, id: namespace.idFromName(name) }),
    get: (target: { name: string; id: DurableObjectId }) => {
      const stub = namespace.get(target.id)
      return {
        merge: async (deltas: SeriesDelta[]) => {
          if (failures.merges > 0) {
            failures.merges--
            throw new Error('shard unreachable')
          }
          return stub.merge(deltas)
        },
        snapshot: async () => {
          if (failures.downShards.has(target.name)) throw new Error('shard unreachable')
          return stub.snapshot()
        },
      }
    },
  } as unknown as DurableObjectNamespace<MetricsAggregator>
}

/** Sample name with sorted labels → value, from Prometheus text. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    const m = /^(\S+) (\S+)$/.exec(line)
    if (m !== null && !line.startsWith('#')) out.set(m[1] as string, Number(m[2]))
  }
  return out
}

async function scrape(gw: typeof env): Promise<Map<string, number>> {
  const res = await send(gw, '/metrics', { headers: SCRAPE })
  expect(res.status).toBe(200)
  return samples(await res.text())
}

/** Every request counted for one route, over all outcomes and reasons. */
function requestsFor(metrics: Map<string, number>, route: string): number {
  let total = 0
  for (const [key, value] of metrics) {
    if (key.startsWith('gatehouse_requests_total{') && key.includes(`route="${route}"`))
      total += value
  }
  return total
}

describe('metrics shards', () => {
  it('spread isolates: each flusher writes only to the shard it was given', async () => {
    const type = uniqueType()
    const isolates: Array<[shard: number, count: number]> = [
      [2, 3],
      [9, 5],
      [15, 7],
    ]
    for (const [shard, count] of isolates) {
      const flusher = new MetricsFlusher(namespace, clock, shard)
      countMetric('gatehouse_security_events_total', { type }, count)
      await flusher.flushNow()
    }
    const expected = new Array<number>(METRICS_SHARDS).fill(0)
    for (const [shard, count] of isolates) expected[shard] = count
    expect(await perShard(type)).toEqual(expected)
    const scrape = await new MetricsFlusher(namespace, clock, 0).snapshot()
    expect(scrape.ok).toBe(true)
    const merged = scrape.ok ? scrape.series : []
    expect(merged.filter((s) => s.labels.type === type)).toEqual([
      { name: 'gatehouse_security_events_total', labels: { type }, value: 15 },
    ])
  })

  it('draws the shard once per isolate, inside 0..METRICS_SHARDS-1', () => {
    const flusher = new MetricsFlusher(namespace, clock)
    expect(Number.isInteger(flusher.shard)).toBe(true)
    expect(flusher.shard).toBeGreaterThanOrEqual(0)
    expect(flusher.shard).toBeLessThan(METRICS_SHARDS)
    expect(() => new MetricsFlusher(namespace, clock, METRICS_SHARDS)).toThrow(RangeError)
    expect(() => new MetricsFlusher(namespace, clock, -1)).toThrow(RangeError)
  })

  it('a scrape of /metrics merges every shard and counts each request once', async () => {
    const gw = testEnv(authConfig())
    // Requests served by an env without the binding stay in the isolate's registry until one of
    // the simulated isolates below flushes them to its shard.
    const serving = testEnv(authConfig(), { METRICS_AGGREGATOR: undefined })
    const isolates: Array<[shard: number, requests: number]> = [
      [1, 3],
      [6, 4],
      [12, 2],
    ]
    const before = await scrape(gw)
    for (const [shard, requests] of isolates) {
      for (let i = 0; i < requests; i++)
        expect((await send(serving, `/api/public/${shard}-${i}`)).status).toBe(200)
      await new MetricsFlusher(namespace, clock, shard).flushNow()
    }
    const after = await scrape(gw)
    expect(requestsFor(after, '/api/public') - requestsFor(before, '/api/public')).toBe(9)
    // and the counts really sit on three different shards
    const onShards = await Promise.all(
      isolates.map(async ([shard]) =>
        (await getMetricsAggregator(namespace, shard).snapshot())
          .filter((s) => s.name === 'gatehouse_requests_total' && s.labels.route === '/api/public')
          .reduce((n, s) => n + s.value, 0),
      ),
    )
    for (const n of onShards) expect(n).toBeGreaterThan(0)
  })

  it('a flush retried after failures reaches its shard once and counts once', async () => {
    const type = uniqueType()
    const failures = { merges: 0, downShards: new Set<string>() }
    let now = 1_000_000
    const flusher = new MetricsFlusher(flakyNamespace(failures), () => now, 4)
    countMetric('gatehouse_security_events_total', { type }, 5)
    failures.merges = 1
    await expect(flusher.flushNow()).rejects.toThrow('shard unreachable')
    // the scheduled (waitUntil) path fails too, with fresh counts on top of the restored ones
    countMetric('gatehouse_security_events_total', { type }, 2)
    failures.merges = 1
    const background: Promise<unknown>[] = []
    flusher.schedule((p) => background.push(p))
    await Promise.all(background)
    expect(background).toHaveLength(1)
    expect((await perShard(type))[4]).toBe(0)
    now += 60_000
    flusher.schedule((p) => background.push(p))
    await Promise.all(background)
    await flusher.flushNow()
    const expected = new Array<number>(METRICS_SHARDS).fill(0)
    expected[4] = 7
    expect(await perShard(type)).toEqual(expected)
  })

  it('a scrape sums histogram buckets element-wise and their sums across shards', async () => {
    const route = `/hist-${crypto.randomUUID()}`
    const a = new MetricsFlusher(namespace, clock, 3)
    for (const ms of [0.5, 7, 30]) observeMetric('gatehouse_request_duration_ms', { route }, ms)
    await a.flushNow()
    const b = new MetricsFlusher(namespace, clock, 10)
    for (const ms of [7, 20_000]) observeMetric('gatehouse_request_duration_ms', { route }, ms)
    await b.flushNow()
    const scrape = await new MetricsFlusher(namespace, clock, 0).snapshot()
    const merged = (scrape.ok ? scrape.series : []).filter((s) => s.labels.route === route)
    // bounds 1 2 5 10 25 50 100 250 500 1000 2500 10000 +Inf
    expect(merged).toEqual([
      {
        name: 'gatehouse_request_duration_ms',
        labels: { route },
        value: 5,
        buckets: [1, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 1],
        sum: 20_044.5,
      },
    ])
    const text = samples(
      await (await send(testEnv(authConfig()), '/metrics', { headers: SCRAPE })).text(),
    )
    expect(text.get(`gatehouse_request_duration_ms_bucket{le="10",route="${route}"}`)).toBe(3)
    expect(text.get(`gatehouse_request_duration_ms_bucket{le="+Inf",route="${route}"}`)).toBe(5)
    expect(text.get(`gatehouse_request_duration_ms_count{route="${route}"}`)).toBe(5)
    expect(text.get(`gatehouse_request_duration_ms_sum{route="${route}"}`)).toBe(20_044.5)
  })

  it('a scrape with a shard down answers 503 and logs the shard, never a partial total', async () => {
    const failures = { merges: 0, downShards: new Set(['metrics-7']) }
    const gw = testEnv(authConfig(), { METRICS_AGGREGATOR: flakyNamespace(failures) })
    const logs = captureLogs()
    const res = await send(gw, '/metrics', { headers: SCRAPE })
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('1')
    expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' })
    expect(logs.lines.find((l) => l.event === 'metrics_scrape_failed')).toMatchObject({
      level: 'error',
      shards: 'metrics-7',
    })
    expect(logs.lastReason()).toBe('store_unavailable')
    failures.downShards.clear()
    expect((await send(gw, '/metrics', { headers: SCRAPE })).status).toBe(200)
  })
})
