// Rate limits per identity, after authentication (so the key is the verified identity) and before
// the origin. Two counters: the Workers Rate Limiting binding a route names (cheap, counted per
// Cloudflare location, approximate), or, without a binding, an exact global fixed-window count in
// a Durable Object per (route, key). A refusal is 429 with Retry-After and the IETF draft's
// RateLimit / RateLimit-Policy fields. A counter that cannot answer lets the request through
// (counted and logged): a limit protects the origin from abuse, it does not authenticate anyone.

import { withTimeout } from '../lib/circuit-breaker'
import { AuthError } from '../lib/errors'
import { logLine } from '../observability/log'
import { countMetric } from '../observability/metrics'
import type { RateShardLocator } from '../revocation/revocation-shard'

export type RateLimitKey = 'subject' | 'session' | 'client' | 'tenant' | 'ip'

export interface RouteRateLimit {
  readonly key: RateLimitKey
  readonly limit: number
  readonly periodSeconds: number
  /** A Workers Rate Limiting binding (approximate, per location), or null: the exact counter. */
  readonly binding: string | null
}

/** Who a request is, as far as a limit keys on it. */
export interface RateIdentity {
  readonly issuer: string | null
  readonly tenant: string | null
  readonly subject: string | null
  readonly sessionId: string | null
  readonly clientId: string | null
  /** The client's network (IPv4 address or IPv6 /64), or null when unknown. */
  readonly network: string | null
}

/** The counter key of a request, or null when the identity has no such part (not limited). */
export function rateKey(key: RateLimitKey, id: RateIdentity): string | null {
  const subject = id.subject === null ? null : JSON.stringify([id.issuer, id.tenant, id.subject])
  switch (key) {
    case 'subject':
      return subject
    case 'session':
      return id.sessionId === null ? subject : `sid:${id.sessionId}`
    case 'client':
      return id.clientId === null ? subject : JSON.stringify([id.issuer, id.clientId])
    case 'tenant':
      return id.tenant === null ? null : JSON.stringify([id.issuer, id.tenant])
    case 'ip':
      return id.network === null ? null : `ip:${id.network}`
  }
}

export interface RateVerdict {
  readonly allowed: boolean
  /** Requests left in the window, when the counter knows. */
  readonly remaining: number | null
  /** Seconds until the window ends (the whole period when the counter cannot say). */
  readonly resetSeconds: number
}

/** The IETF draft fields (draft-ietf-httpapi-ratelimit-headers) for an answer. */
export function rateLimitHeaders(
  rule: RouteRateLimit,
  verdict: RateVerdict,
): Record<string, string> {
  const remaining = verdict.remaining ?? (verdict.allowed ? null : 0)
  return {
    'ratelimit-policy': `"gatehouse";q=${rule.limit};w=${rule.periodSeconds}`,
    ...(remaining === null
      ? {}
      : { ratelimit: `"gatehouse";r=${remaining};t=${Math.max(0, verdict.resetSeconds)}` }),
  }
}

export interface RateCounters {
  /** A Workers Rate Limiting binding by name (undefined when not bound). */
  readonly binding: (name: string) => RateLimit | undefined
  readonly exact: RateShardLocator
  readonly timeoutMs: number
}

/**
 * Counts one request against a route's limit; throws AuthError rate_limited (429, Retry-After,
 * RateLimit fields) when it is over. Returns the headers for the answer.
 */
export async function enforceRateLimit(
  route: string,
  rule: RouteRateLimit,
  id: RateIdentity,
  counters: RateCounters,
  nowSeconds: number,
): Promise<Record<string, string>> {
  const key = rateKey(rule.key, id)
  if (key === null) return {}
  let verdict: RateVerdict
  try {
    verdict = await count(route, rule, key, counters, nowSeconds)
  } catch (err) {
    countMetric('gatehouse_rate_limit_total', { route, result: 'unavailable' })
    logLine('warn', 'rate_limit_unavailable', {
      route,
      error: err instanceof Error ? err.name : 'unknown',
    })
    return {}
  }
  const headers = rateLimitHeaders(rule, verdict)
  if (verdict.allowed) {
    countMetric('gatehouse_rate_limit_total', { route, result: 'ok' })
    return headers
  }
  countMetric('gatehouse_rate_limit_total', { route, result: 'limited' })
  throw new AuthError('rate_limited', {
    detail: `over ${rule.limit} per ${rule.periodSeconds} s by ${rule.key}`,
    retryAfterSeconds: Math.max(1, verdict.resetSeconds),
    headers,
  })
}

async function count(
  route: string,
  rule: RouteRateLimit,
  key: string,
  counters: RateCounters,
  nowSeconds: number,
): Promise<RateVerdict> {
  if (rule.binding !== null) {
    const limiter = counters.binding(rule.binding)
    if (limiter === undefined) throw new Error(`rate limit binding ${rule.binding} is not bound`)
    const { success } = await limiter.limit({ key: `${route} ${key}` })
    // The binding answers yes or no: the window's end is at most one period away.
    const resetSeconds = rule.periodSeconds - (Math.floor(nowSeconds) % rule.periodSeconds)
    return { allowed: success, remaining: null, resetSeconds }
  }
  const result = await withTimeout(
    counters.exact(route, key).hit(rule.limit, rule.periodSeconds),
    counters.timeoutMs,
  )
  return {
    allowed: result.allowed,
    remaining: result.remaining,
    resetSeconds: Math.ceil(result.resetAt - nowSeconds),
  }
}
