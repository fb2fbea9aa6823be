// The bridge from a request to a VerifiedToken: extracts the bearer token, verifies it with the
// isolate's key store, enforces the scopes the caller asks for, and records jti/sid/kid for the
// log line. The only place in verify/ that touches bindings (KV and the key source, via scope).

import type { RequestScope } from '../request-middleware'
import type { Config, IssuerConfig } from '../config'
import { AuthError } from '../errors'
import { countMetric, observeMetric } from '../observability/metrics'
import { keySourceFor } from '../keys/key-source'
import { keyStore } from '../keys/key-store'
import { extractBearerToken } from './bearer'
import { verifyAccessToken, type VerifiedToken } from './verify-token'

const issuerIndexes = new WeakMap<Config, ReadonlyMap<string, IssuerConfig>>()

function issuerIndex(config: Config): ReadonlyMap<string, IssuerConfig> {
  let index = issuerIndexes.get(config)
  if (index === undefined) {
    index = new Map(config.issuers.map((i) => [i.issuer, i]))
    issuerIndexes.set(config, index)
  }
  return index
}

/**
 * Verifies the request's bearer token and that it carries every scope in `scopes`.
 * Throws AuthError (missing_token, invalid_request, any verification reason, insufficient_scope).
 */
export async function authenticate(
  request: Request,
  search: string,
  scopes: readonly string[],
  scope: RequestScope,
): Promise<VerifiedToken> {
  const token = extractBearerToken(request.headers.get('authorization'), search)
  const verified = await verifyToken(token, scope)
  for (const required of scopes) {
    if (!verified.scopes.includes(required)) {
      throw new AuthError('insufficient_scope', { scope: scopes.join(' ') })
    }
  }
  return verified
}

/** Verifies a token string with the isolate's key store; throws AuthError. */
export async function verifyToken(token: string, scope: RequestScope): Promise<VerifiedToken> {
  const { config, record, env } = scope
  const now = Date.now() / 1000
  let verified: VerifiedToken
  try {
    verified = await verifyAccessToken(token, {
      issuers: issuerIndex(config),
      nowSeconds: now,
      clockSkewSeconds: config.clockSkewSeconds,
      maxTokenLifetimeSeconds: config.maxTokenLifetimeSeconds,
      resolveKey: (issuer, kid) =>
        keyStore.getKey(issuer, kid, {
          kv: env.JWKS_CACHE,
          source: keySourceFor(env, config),
          settings: config.jwks,
          now: Date.now,
          waitUntil: scope.waitUntil,
        }),
    })
  } catch (err) {
    if (err instanceof AuthError) countMetric('gatehouse_verify_total', { outcome: err.reason })
    throw err
  }
  countMetric('gatehouse_verify_total', { outcome: 'ok' })
  if (verified.issuedAt !== null) {
    observeMetric(
      'gatehouse_clock_offset_seconds',
      { issuer: verified.issuer.issuer },
      now - verified.issuedAt,
    )
  }
  record.tenant = verified.tenant
  record.subject = verified.subject
  record.issuer = verified.issuer.issuer
  record.kid = verified.kid
  record.jti = verified.tokenId
  record.sid = verified.sessionId
  return verified
}
