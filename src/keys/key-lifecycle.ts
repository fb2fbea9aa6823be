// The signing-key lifecycle as a pure plan: next (published, not signing) → current (signing) →
// retired (published until every token it signed has expired) → deleted. The next key is
// published at least `publishLeadMs` — the longest any verifier caches our JWKS — before it
// signs, so no verifier ever meets an unknown kid from us. The KeyManager applies the plan.

export type KeyState = 'next' | 'current' | 'retired'

export interface KeyRow {
  readonly kid: string
  readonly state: KeyState
  readonly createdAt: number
  readonly activatedAt: number | null
  readonly retiredAt: number | null
}

export interface LifecyclePolicy {
  readonly rotationIntervalMs: number
  /** How long a key is published before it may sign. */
  readonly publishLeadMs: number
  /** How long a retired key stays published after it stopped signing. */
  readonly retireGraceMs: number
}

export interface LifecyclePlan {
  /** Kid to promote from next to current (the current one, if any, retires). */
  readonly promote: string | null
  readonly delete: readonly string[]
  /** Generate a key straight into `current`: only when nothing can sign (first start). */
  readonly bootstrapCurrent: boolean
  readonly generateNext: boolean
  /** When the plan should run again (epoch ms). */
  readonly wakeAt: number
}

/**
 * Decides the transitions due at `now`. `force` (a manual rotation) promotes the next key before
 * the interval ends, but never before it has been published for publishLeadMs.
 */
export function planLifecycle(
  rows: readonly KeyRow[],
  now: number,
  policy: LifecyclePolicy,
  force = false,
): LifecyclePlan {
  const current = rows.find((r) => r.state === 'current') ?? null
  const next = rows.find((r) => r.state === 'next') ?? null
  const nextReadyAt =
    next === null ? now + policy.publishLeadMs : next.createdAt + policy.publishLeadMs
  const rotationDueAt =
    current === null ? now : (current.activatedAt ?? current.createdAt) + policy.rotationIntervalMs
  let promote: string | null = null
  if (next !== null) {
    // With no current key the next one signs at once: a missing signer is worse than a kid a
    // verifier may have to refetch (it will, on the unknown kid).
    if (current === null || ((force || rotationDueAt <= now) && nextReadyAt <= now))
      promote = next.kid
  }
  const deletions = rows
    .filter((r) => r.state === 'retired' && (r.retiredAt ?? 0) + policy.retireGraceMs <= now)
    .map((r) => r.kid)
  const wakeTimes = rows
    .filter((r) => r.state === 'retired' && !deletions.includes(r.kid))
    .map((r) => (r.retiredAt ?? 0) + policy.retireGraceMs)
  if (promote !== null || current === null) {
    // A key starts signing now: it rotates one interval from now; the old one (if any) retires now.
    if (current !== null) wakeTimes.push(now + policy.retireGraceMs)
    wakeTimes.push(now + Math.max(policy.rotationIntervalMs, policy.publishLeadMs))
  } else {
    wakeTimes.push(Math.max(rotationDueAt, nextReadyAt))
  }
  return {
    promote,
    delete: deletions,
    bootstrapCurrent: current === null && next === null,
    generateNext: promote !== null || next === null,
    wakeAt: Math.min(...wakeTimes),
  }
}
