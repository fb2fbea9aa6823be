// The authentication level a route or scope demands (RFC 9470): the token's `acr` must be one of
// `acrValues` and its `auth_time` at most `maxAuthAgeSeconds` old. A token that falls short is
// answered 401 insufficient_user_authentication with the level in the challenge, and the client
// steps up (POST /auth/step-up) instead of logging in again.

import { AuthError } from '../lib/errors'

export interface AuthLevel {
  /** The acr values accepted; null: any. */
  readonly acrValues: readonly string[] | null
  /** The oldest auth_time accepted, in seconds before now; null: any. */
  readonly maxAuthAgeSeconds: number | null
}

/** How the caller authenticated, as the verified token says. */
export interface AuthenticationFacts {
  readonly acr: string | null
  readonly authTime: number | null
}

/**
 * The strictest combination of levels: every acr list must be met (their intersection) and the
 * smallest age applies. Null when there is nothing to demand.
 */
export function combineLevels(levels: readonly (AuthLevel | null | undefined)[]): AuthLevel | null {
  let acrValues: readonly string[] | null = null
  let maxAuthAgeSeconds: number | null = null
  let any = false
  for (const level of levels) {
    if (level === null || level === undefined) continue
    any = true
    if (level.acrValues !== null) {
      const own = level.acrValues
      acrValues = acrValues === null ? own : acrValues.filter((a) => own.includes(a))
    }
    if (level.maxAuthAgeSeconds !== null) {
      maxAuthAgeSeconds =
        maxAuthAgeSeconds === null
          ? level.maxAuthAgeSeconds
          : Math.min(maxAuthAgeSeconds, level.maxAuthAgeSeconds)
    }
  }
  return any ? { acrValues, maxAuthAgeSeconds } : null
}

/**
 * Throws insufficient_user_authentication when `facts` fall short of `level` at `now`. The
 * challenge names the level; the detail (logs only) names what fell short.
 */
export function assertAuthLevel(
  facts: AuthenticationFacts,
  level: AuthLevel,
  now: number,
  scheme: 'Bearer' | 'DPoP',
): void {
  const shortfall = levelShortfall(facts, level, now)
  if (shortfall === null) return
  throw new AuthError('insufficient_user_authentication', {
    detail: shortfall,
    scheme,
    stepUp: {
      acrValues: level.acrValues === null ? null : level.acrValues.join(' '),
      maxAge: level.maxAuthAgeSeconds,
    },
  })
}

/** What falls short, for the log; null when the level is met. */
export function levelShortfall(
  facts: AuthenticationFacts,
  level: AuthLevel,
  now: number,
): string | null {
  if (level.acrValues !== null) {
    if (facts.acr === null) return 'the token has no acr'
    if (!level.acrValues.includes(facts.acr)) return `acr ${facts.acr} is not accepted`
  }
  if (level.maxAuthAgeSeconds !== null) {
    if (facts.authTime === null) return 'the token has no auth_time'
    const age = now - facts.authTime
    if (age > level.maxAuthAgeSeconds) return `authenticated ${Math.floor(age)} s ago`
  }
  return null
}
