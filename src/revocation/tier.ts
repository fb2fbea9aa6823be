// Risk tiers (DESIGN: low skips the revocation check, standard fails open, critical fails
// closed) and how a sensitive scope raises a route's tier.

export const TIERS = ['low', 'standard', 'critical'] as const
export type Tier = (typeof TIERS)[number]

const TIER_RANK: Record<Tier, number> = { low: 0, standard: 1, critical: 2 }

/** The route's tier, raised by any sensitive scope the token carries. */
export function effectiveTier(
  routeTier: Tier,
  scopes: readonly string[],
  sensitive: Readonly<Record<string, Tier>>,
): Tier {
  let tier = routeTier
  for (const scope of scopes) {
    const raised = sensitive[scope]
    if (raised !== undefined && TIER_RANK[raised] > TIER_RANK[tier]) tier = raised
  }
  return tier
}
