// Small statistics for noisy benchmarks: medians and quantiles of rounds, ratios paired by round
// (A and B measured back to back, so slow drift of the machine cancels), and number formatting.

/** Median of a non-empty list of numbers. */
export function median(values) {
  return quantile(values, 0.5)
}

/** Linear-interpolated quantile q ∈ [0, 1]. */
export function quantile(values, q) {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
}

/** Median of per-round ratios a[i] / b[i]. */
export function pairedRatio(a, b) {
  return median(a.map((x, i) => x / b[i]))
}

/** Rounds a number to `digits` significant decimals for tables and JSON. */
export function round(value, digits = 2) {
  if (!Number.isFinite(value)) return value
  const f = 10 ** digits
  return Math.round(value * f) / f
}

/** Rotates a list by `k` so each variant takes every position across rounds. */
export function rotate(list, k) {
  const n = list.length
  return list.map((_, i) => list[(i + k) % n])
}

/** { min, max } of a list of numbers (the spread printed next to a median). */
export function spread(values) {
  return { min: Math.min(...values), max: Math.max(...values) }
}
