// The soak's report: one summary line (throughput and p50/p99 latency per operation, then the
// verdict of every check), and a short account of what was refused and why, and each violation.

const SUMMARY_KINDS = [
  'login',
  'refresh',
  'api-low',
  'api-standard',
  'api-critical',
  'revoke',
  'logout',
]
const MAX_VIOLATIONS_SHOWN = 40

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
}

/** Per kind: { count, perSecond, p50, p99 } (latency in ms over answered operations). */
export function throughput(ops, seconds) {
  const byKind = {}
  for (const op of ops) {
    const k = (byKind[op.kind] ??= { count: 0, latencies: [] })
    k.count++
    if (op.error === null) k.latencies.push(op.doneAt - op.sentAt)
  }
  for (const k of Object.values(byKind)) {
    k.latencies.sort((a, b) => a - b)
    k.perSecond = k.count / seconds
    k.p50 = quantile(k.latencies, 0.5)
    k.p99 = quantile(k.latencies, 0.99)
    delete k.latencies
  }
  return byKind
}

const ms = (v) => (Number.isFinite(v) ? `${Math.round(v)}ms` : '-')
const rate = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2))

/** The one summary line. */
export function summaryLine(r) {
  const parts = SUMMARY_KINDS.filter((k) => k !== 'api-standard' || r.throughput[k]).map((kind) => {
    const t = r.throughput[kind]
    return t ? `${kind} ${rate(t.perSecond)}/s p50 ${ms(t.p50)} p99 ${ms(t.p99)}` : `${kind} 0`
  })
  const c = r.counts
  parts.push(`rotate-keys ${r.throughput['rotate-keys']?.count ?? 0}`)
  parts.push(`requests ${r.ops} answered ${c.answered}`)
  parts.push(`5xx ${c.status5xx}`)
  parts.push(`replays ${c.replaysDetected}/${c.replays} detected`)
  parts.push(`revoked refused ${c.revokedRefused}/${c.revokedPresented}`)
  parts.push(`two-tab ${c.racesSameSuccessor}/${c.races} same successor`)
  parts.push(`double-live ${r.doubleLive ?? 'unchecked'}`)
  parts.push(r.violations.length === 0 ? 'ok' : `FAILED (${r.violations.length} violations)`)
  return `soak ${r.seconds}s: ${parts.join(' · ')}`
}

function describeOp(op) {
  if (op === null) return 'database'
  const gen = op.generation >= 0 ? `gen ${op.generation}` : null
  const what = [op.kind, op.variant, gen, op.probe ? `probe:${op.probe}` : null].filter(Boolean)
  const logged = op.loggedReason ? ` logged ${op.loggedReason}` : ''
  return `op ${op.id} ${what.join(' ')} by ${op.actor} sid ${op.sid ?? '-'}${logged}`
}

/** The lines printed above the summary: what was refused and why, and each violation. */
export function detailLines(r) {
  const c = r.counts
  const lines = [
    `soak: ${r.ops} requests, ${c.answered} answered; refused as expected: ${c.revokedRefused} ` +
      `revoked, ${c.replaysDetected} replays (+${c.replaysOnEnded} on sessions revoked before or meanwhile), ` +
      `${c.stolenRefused}/${c.stolen} bound refresh tokens without their DPoP proof, ` +
      `${c.throttled} logins throttled (429); ${c.raced} raced a revocation (either answer ` +
      `allowed); ${c.byDesignLow} low-tier calls with a revoked session's token (no revocation ` +
      'check on the low tier, by design)',
  ]
  if (r.logged !== undefined) {
    const reasons = Object.entries(r.reasons)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')
    lines.push(`soak: gateway log: ${r.logged} request lines matched; refusals logged: ${reasons}`)
  } else lines.push('soak: gateway log not available (attached without --log): reasons unchecked')
  if (r.originDelta !== undefined)
    lines.push(
      `soak: demo origin served ${r.originDelta} requests, the soak got ${r.api200} API 200s`,
    )
  if (r.sessionsPerShard)
    lines.push(
      `soak: sessions of the run per shard: ${Object.entries(r.sessionsPerShard)
        .map(([b, n]) => `${b} ${n}`)
        .join(', ')}; audit events ${r.auditEvents}`,
    )
  for (const note of r.notes) lines.push(`soak: ${note}`)
  if (r.violations.length > 0) {
    const kinds = new Map()
    for (const v of r.violations) {
      const kind = `${v.op?.kind ?? 'database'}: ${v.what.replace(/usr_[\w-]+|[\w-]{20,}|\d+/g, '…')}`
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
    }
    lines.push('soak: violations by kind:')
    for (const [kind, n] of [...kinds].sort((a, b) => b[1] - a[1])) lines.push(`  ${n} × ${kind}`)
  }
  for (const v of r.violations.slice(0, MAX_VIOLATIONS_SHOWN)) {
    lines.push(`VIOLATION ${describeOp(v.op)}: ${v.what}`)
  }
  if (r.violations.length > MAX_VIOLATIONS_SHOWN)
    lines.push(`… and ${r.violations.length - MAX_VIOLATIONS_SHOWN} more violations`)
  return lines
}
