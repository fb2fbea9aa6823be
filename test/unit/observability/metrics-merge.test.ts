// The pure half of the sharded aggregator: summing per-shard snapshots into one exposition
// (order independent of which shard answered) and drawing an isolate's shard.

import { describe, expect, it } from 'vitest'
import type { SeriesDelta } from '../../../src/observability/metrics'
import {
  METRICS_SHARDS,
  mergeSnapshots,
  pickMetricsShard,
} from '../../../src/observability/metrics-aggregator'

const hist = (route: string, buckets: number[], sum: number): SeriesDelta => ({
  name: 'gatehouse_request_duration_ms',
  labels: { route },
  value: buckets.reduce((a, b) => a + b, 0),
  buckets,
  sum,
})

describe('mergeSnapshots', () => {
  it('sums one series across shards whatever the order of its labels', () => {
    const merged = mergeSnapshots([
      [{ name: 'gatehouse_login_total', labels: { result: 'ok', tenant: 'a' }, value: 2 }],
      [{ name: 'gatehouse_login_total', labels: { tenant: 'a', result: 'ok' }, value: 3 }],
      [
        {
          name: 'gatehouse_login_total',
          labels: { result: 'invalid_grant', tenant: 'a' },
          value: 1,
        },
      ],
    ])
    expect(merged.map((s) => [s.labels.result, s.value])).toEqual([
      ['invalid_grant', 1],
      ['ok', 5],
    ])
  })

  it('adds histogram buckets element-wise and their sums', () => {
    const merged = mergeSnapshots([[hist('/a', [1, 0, 2], 7.5)], [hist('/a', [0, 4, 1], 2.5)]])
    expect(merged).toEqual([hist('/a', [1, 4, 3], 10)])
  })

  it('orders the result by name, then labels, whichever shard answered first', () => {
    const shards: SeriesDelta[][] = [
      [hist('/b', [1], 1), { name: 'gatehouse_verify_total', labels: { outcome: 'ok' }, value: 1 }],
      [{ name: 'gatehouse_login_total', labels: { result: 'ok' }, value: 1 }, hist('/a', [1], 1)],
    ]
    const forward = mergeSnapshots(shards)
    expect(forward.map((s) => `${s.name}${s.labels.route ?? ''}`)).toEqual([
      'gatehouse_login_total',
      'gatehouse_request_duration_ms/a',
      'gatehouse_request_duration_ms/b',
      'gatehouse_verify_total',
    ])
    expect(mergeSnapshots([...shards].reverse())).toEqual(forward)
  })

  it('leaves the shard snapshots it read unchanged', () => {
    const a = hist('/a', [1, 2], 3)
    const b = hist('/a', [4, 5], 6)
    mergeSnapshots([[a], [b]])
    expect(a).toEqual(hist('/a', [1, 2], 3))
    expect(b).toEqual(hist('/a', [4, 5], 6))
  })
})

describe('pickMetricsShard', () => {
  it('maps the whole random range onto 0..METRICS_SHARDS-1', () => {
    expect(pickMetricsShard(() => 0)).toBe(0)
    expect(pickMetricsShard(() => 0.5)).toBe(METRICS_SHARDS / 2)
    expect(pickMetricsShard(() => 1 - Number.EPSILON)).toBe(METRICS_SHARDS - 1)
    const drawn = new Set(Array.from({ length: 2000 }, () => pickMetricsShard()))
    expect(drawn.size).toBe(METRICS_SHARDS)
  })
})
