// Prometheus text exposition format 0.0.4 for the aggregated series: HELP and TYPE per metric,
// counters as `name{labels} value`, histograms as cumulative `_bucket{le}`, `_sum`, `_count`.

import {
  BUCKETS,
  COUNTERS,
  HISTOGRAMS,
  type HistogramName,
  type Labels,
  type SeriesDelta,
} from './metrics'

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function labelText(labels: Labels, extra: Record<string, string> = {}): string {
  const all = { ...labels, ...extra }
  const keys = Object.keys(all).sort()
  if (keys.length === 0) return ''
  return `{${keys.map((k) => `${k}="${escapeLabel(all[k] as string)}"`).join(',')}}`
}

/** Renders every known metric (zero-valued ones included for HELP/TYPE) and the given series. */
export function renderPrometheus(series: readonly SeriesDelta[]): string {
  const lines: string[] = []
  for (const [name, help] of Object.entries(COUNTERS)) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`)
    for (const s of series)
      if (s.name === name) lines.push(`${name}${labelText(s.labels)} ${s.value}`)
  }
  for (const [name, help] of Object.entries(HISTOGRAMS)) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`)
    const bounds = BUCKETS[name as HistogramName]
    for (const s of series) {
      if (s.name !== name || s.buckets === undefined) continue
      let cumulative = 0
      bounds.forEach((bound, i) => {
        cumulative += s.buckets?.[i] ?? 0
        lines.push(`${name}_bucket${labelText(s.labels, { le: String(bound) })} ${cumulative}`)
      })
      cumulative += s.buckets[bounds.length] ?? 0
      lines.push(`${name}_bucket${labelText(s.labels, { le: '+Inf' })} ${cumulative}`)
      lines.push(`${name}_sum${labelText(s.labels)} ${s.sum ?? 0}`)
      lines.push(`${name}_count${labelText(s.labels)} ${s.value}`)
    }
  }
  return `${lines.join('\n')}\n`
}
