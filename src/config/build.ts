// Maps the validated document to the Config the gateway reads: camelCase, seconds turned into
// the units the code uses, URLs normalized to their origin, prefixes normalized, secrets filled
// in. Runs only on a document that passed the schema and whose secrets resolved, so it cannot fail.

import { normalizeTokenType } from '../keys/issuer'
import type { JwksSettings } from '../keys/issuer'
import type { RouteConfig } from '../proxy/route'
import type { AuthLevel } from '../proxy/step-up'
import { buildAuthConfig } from './auth'
import { fieldName } from './errors'
import type { GatehouseDocument } from './schema'
import { normalizePrefix } from './schema-routes'
import { parseBuckets } from './schema-storage'
import type { Config, IssuerConfig, StorageConfig } from './types'

const SECOND_MS = 1000

type Doc = GatehouseDocument

function buildIssuer(doc: Doc['issuers'][number]): IssuerConfig {
  return {
    issuer: doc.issuer,
    self: doc.self,
    jwksUri: doc.jwks_uri ?? null,
    audiences: doc.audiences,
    algorithms: doc.algorithms,
    tokenTypes: doc.token_types.map(normalizeTokenType),
    tenant: doc.tenant ?? null,
    tenants: doc.tenants ?? null,
    scopeClaim: doc.scope_claim,
    scopeFormat: doc.scope_format,
  }
}

function buildJwks(doc: Doc['jwks']): JwksSettings {
  return {
    refetchCooldownMs: doc.refetch_cooldown_seconds * SECOND_MS,
    maxStaleMs: doc.max_stale_seconds * SECOND_MS,
    fetchTimeoutMs: doc.fetch_timeout_ms,
    isolateTtlMs: doc.isolate_ttl_seconds * SECOND_MS,
  }
}

function buildRoute(
  doc: Doc['routes'][number],
  issuers: readonly IssuerConfig[],
  secret: (name: string) => string,
): RouteConfig {
  return {
    prefix: normalizePrefix(doc.prefix),
    origin: new URL(doc.origin).origin,
    auth: doc.auth,
    issuers: new Set(doc.issuers ?? defaultRouteIssuers(issuers)),
    readScopes: doc.read_scopes,
    // An omitted write list means "the read scopes", never "nothing" (a write needs a scope).
    writeScopes: doc.write_scopes ?? doc.read_scopes,
    methods: new Set(doc.methods),
    tier: doc.tier,
    timeoutMs: doc.timeout_ms,
    forwardAuthorization: doc.forward_authorization,
    dpop: doc.dpop,
    retries: doc.retries,
    maxInFlight: doc.max_in_flight,
    originSecretName: doc.origin_secret,
    originSecret: secret(doc.origin_secret),
    identity: doc.identity,
    assertionSigning: doc.assertion_signing,
    assertionAudience: doc.assertion_audience ?? new URL(doc.origin).origin,
    bodyBinding: doc.body_binding,
    maxBoundBodyBytes: doc.max_bound_body_bytes,
    cors:
      doc.cors === undefined
        ? null
        : {
            origins: doc.cors.origins,
            methods: doc.cors.methods,
            headers: doc.cors.headers,
            exposeHeaders: doc.cors.expose_headers,
            credentials: doc.cors.credentials,
            maxAgeSeconds: doc.cors.max_age_seconds,
          },
    rateLimit:
      doc.rate_limit === undefined
        ? null
        : {
            key: doc.rate_limit.key,
            limit: doc.rate_limit.limit,
            periodSeconds: doc.rate_limit.period_seconds,
            binding: doc.rate_limit.binding ?? null,
          },
    websocket: doc.websocket,
    authLevel: authLevel(doc),
  }
}

/**
 * The issuers a route that names none accepts: our own, when we are one (a third-party token
 * reaches a route only where the route says so), else every configured issuer.
 */
function defaultRouteIssuers(issuers: readonly IssuerConfig[]): string[] {
  const self = issuers.find((i) => i.self)
  return self === undefined ? issuers.map((i) => i.issuer) : [self.issuer]
}

/** The level a route or scope demands (RFC 9470), or null when it demands none. */
function authLevel(doc: {
  acr_values?: string[] | undefined
  max_auth_age_seconds?: number | undefined
}): AuthLevel | null {
  if (doc.acr_values === undefined && doc.max_auth_age_seconds === undefined) return null
  return {
    acrValues: doc.acr_values ?? null,
    maxAuthAgeSeconds: doc.max_auth_age_seconds ?? null,
  }
}

/** The frozen Config of a validated document; `secret` returns an already-resolved secret. */
export function buildConfig(doc: Doc, secret: (name: string) => string): Config {
  const publicUrl = new URL(doc.public_url)
  const issuers = doc.issuers.map(buildIssuer)
  const self = issuers.find((i) => i.self)
  const selfIssuer = self === undefined ? null : { ...self, publicUrl: publicUrl.origin }
  return deepFreeze({
    publicUrl: publicUrl.origin,
    publicHost: publicUrl.host,
    publicProto: publicUrl.protocol.slice(0, -1),
    clockSkewSeconds: doc.clock_skew_seconds,
    maxTokenLifetimeSeconds: doc.max_token_lifetime_seconds,
    issuers,
    warnings: configWarnings(doc),
    jwks: buildJwks(doc.jwks),
    routes: doc.routes.map((route) => buildRoute(route, issuers, secret)),
    sensitiveScopes: { ...doc.sensitive_scopes },
    stepUpScopes: Object.fromEntries(
      Object.entries(doc.step_up_scopes).map(([scope, level]) => [scope, authLevel(level)]),
    ) as Record<string, AuthLevel>,
    publicAliases: doc.public_aliases,
    revocationTimeoutMs: doc.revocation_timeout_ms,
    metricsScrapeSecret:
      doc.metrics_scrape_secret === undefined ? null : secret(doc.metrics_scrape_secret),
    demoPage: doc.demo_page,
    logSampleRate: doc.log_sample_rate,
    websocketCheckSeconds: doc.websocket_check_seconds,
    auth: buildAuthConfig(doc.auth, selfIssuer, secret),
    storage: buildStorage(doc.storage),
    assertionKeySecret: doc.routes.some((r) => r.assertion_signing === 'eddsa')
      ? secret('KEY_ENCRYPTION_SECRET')
      : null,
  })
}

/** Bucket ranges as bucket lists (the schema has checked them, so parsing cannot fail here). */
function buildStorage(doc: Doc['storage']): StorageConfig {
  const buckets = (text: string) => parseBuckets(text) as number[]
  return {
    shards: doc.session_shards.map((s) => ({ binding: s.binding, buckets: buckets(s.buckets) })),
    frozenBuckets: buckets(doc.frozen_buckets),
    auditBinding: doc.audit_database,
    auditRetentionSeconds: doc.audit_retention_days * 86_400,
  }
}

/** What is valid but worth saying out loud: an explicitly empty write-scope list on a token route. */
function configWarnings(doc: Doc): string[] {
  return doc.routes.flatMap((route, i) =>
    route.auth === 'token' && route.write_scopes !== undefined && route.write_scopes.length === 0
      ? [
          `${fieldName(['routes', i, 'write_scopes'], doc)} is an empty list: any valid token may use ` +
            `POST/PUT/PATCH/DELETE on ${route.prefix} (omit it to require the read scopes)`,
        ]
      : [],
  )
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    if (!(value instanceof Set)) {
      for (const child of Object.values(value)) deepFreeze(child)
    }
    Object.freeze(value)
  }
  return value
}
