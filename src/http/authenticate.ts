// The bridge from a request to a VerifiedToken: extracts the bearer token, verifies it with the
// isolate's key store, enforces the scopes the caller asks for, and records jti/sid/kid for the
// log line. The only place in verify/ that touches bindings (KV and the key source, via scope).

import type { RequestScope } from './request-context'
import type { Config, IssuerConfig } from '../config/config'
import { AuthError } from '../lib/errors'
import { countMetric, observeMetric } from '../observability/metrics'
import { keySourceFor } from './key-source'
import { keyStore, type KeyStoreDeps } from '../keys/key-store'
import { extractBearerToken } from '../verify/bearer'
import { VerifiedTokenCache } from '../verify/verified-token-cache'
import { verifyAccessToken, type VerifiedToken } from '../verify/verify-token'

const issuerIndexes = new WeakMap<Config, ReadonlyMap<string, IssuerConfig>>()

function issuerIndex(config: Config): ReadonlyMap<string, IssuerConfig> {
  let index = issuerIndexes.get(config)
  if (index === undefined) {
    index = new Map(config.issuers.map((i) => [i.issuer, i]))
    issuerIndexes.set(config, index)
  }
  return index
}

/** The key store's dependencies for a request (waitUntil is the request's own). */
function keyDeps(
  env: RequestScope['env'],
  config: Config,
  waitUntil: RequestScope['waitUntil'],
): KeyStoreDeps {
  return {
    kv: env.JWKS_CACHE,
    source: keySourceFor(env, config),
    settings: config.jwks,
    now: Date.now,
    waitUntil,
  }
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
  const cache = tokenCacheFor(config)
  let verified = cache.get(token, now, config.clockSkewSeconds, (v) => keyHeld(v, config, now))
  if (verified !== null) {
    countMetric('gatehouse_verify_total', { outcome: 'ok', cache: 'hit' })
    return recordVerified(record, verified)
  }
  try {
    verified = await verifyAccessToken(token, {
      issuers: issuerIndex(config),
      nowSeconds: now,
      clockSkewSeconds: config.clockSkewSeconds,
      maxTokenLifetimeSeconds: config.maxTokenLifetimeSeconds,
      resolveKey: (issuer, kid) =>
        keyStore.getKey(issuer, kid, keyDeps(env, config, scope.waitUntil)),
      peekKey: (issuer, kid) => keyStore.peekKey(issuer, kid, config.jwks, Date.now()),
    })
  } catch (err) {
    if (err instanceof AuthError)
      countMetric('gatehouse_verify_total', { outcome: err.reason, cache: 'miss' })
    throw err
  }
  cache.set(token, verified)
  countMetric('gatehouse_verify_total', { outcome: 'ok', cache: 'miss' })
  if (verified.issuedAt !== null) {
    observeMetric(
      'gatehouse_clock_offset_seconds',
      { issuer: verified.issuer.issuer },
      now - verified.issuedAt,
    )
  }
  return recordVerified(record, verified)
}

function recordVerified(record: RequestScope['record'], verified: VerifiedToken): VerifiedToken {
  record.tenant = verified.tenant
  record.subject = verified.subject
  record.issuer = verified.issuer.issuer
  record.kid = verified.kid
  record.jti = verified.tokenId
  record.sid = verified.sessionId
  return verified
}

const tokenCaches = new WeakMap<Config, VerifiedTokenCache>()

function tokenCacheFor(config: Config): VerifiedTokenCache {
  let cache = tokenCaches.get(config)
  if (cache === undefined) {
    cache = new VerifiedTokenCache()
    tokenCaches.set(config, cache)
  }
  return cache
}

/** A cached verification stands only while its signing key is still held, fresh, in the isolate. */
function keyHeld(verified: VerifiedToken, config: Config, nowSeconds: number): boolean {
  return (
    keyStore.peekKey(verified.issuer, verified.kid, config.jwks, nowSeconds * 1000) !== undefined
  )
}
